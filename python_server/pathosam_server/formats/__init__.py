"""Formats room: reading images through one ``slide.SlideReader`` interface (``readers.open_image`` picks
OpenSlide, tifffile or Pillow by what opens the file) and QuPath GeoJSON in and out (``geojson``).

May import: records, classes, errors, files, geometry. Never torch or gRPC.
"""
