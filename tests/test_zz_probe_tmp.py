def test_tb(tiny_bundle):
    print(tiny_bundle)
