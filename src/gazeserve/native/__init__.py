"""The C delegate that runs MediaPipe's custom ops of the attention face mesh on stock LiteRT.

`build.py` compiles it; `gazeserve.runtime.litert_attention` loads and checks it.
"""
