"""Inference room: model specs, loading and devices (``models``), weights on disk
(``weights``: registry, checkpoint files, their scale), the class decoder (``semantic``), tile ->
nuclei (``pipeline``), whole regions in process (``regions``), prompts (``prompts``) and their embedding
cache (``embedding_cache``). The only room that imports torch and micro-sam.

May import: records, classes, errors, files, geometry, formats. Never gRPC, batch or CLI code.
"""
