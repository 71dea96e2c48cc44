"""The monitoring mixin (jsonnet) and its compiler, `python -m mixin.build`."""
