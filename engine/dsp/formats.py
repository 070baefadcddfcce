"""The audio file extensions read as clips (a module of its own: engine.dsp.audio and
engine.dsp.shards both need them, and audio imports shards)."""

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".opus", ".au")
