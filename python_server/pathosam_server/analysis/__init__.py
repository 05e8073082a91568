"""Per-object analysis computed once on the server: shape and stain measurements, cells.

No torch and no gRPC here: the pipeline calls it on a tile's labels and pixels, so every client
(toolbar, script, batch) gets the same numbers under QuPath's own measurement names.
"""
