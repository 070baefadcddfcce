"""Signal processing: audio files, the STFT front-end and sparse NMF."""
