"""Geometry room: label images <-> polygons (``polygons``), THE one tile <-> level-0 conversion
(``coords``), tile plans and the ownership rule (``tiling``), and the seam guard (``seams``).

May import: records, classes, errors, numpy, shapely. Never torch, gRPC or anything above it.
"""
