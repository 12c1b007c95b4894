"""Frontends: the TF1-style graph API (``graph``); the ONNX importer arrives with its issue."""
