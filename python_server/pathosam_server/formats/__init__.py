"""Formats room: reading image pixels (``images``) and QuPath GeoJSON in and out (``geojson``).

May import: records, classes, errors, files, geometry. Never torch or gRPC.
"""
