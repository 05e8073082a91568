"""Batch room: headless, resumable batches over QuPath projects or image folders. ``run`` orders the
work per image, ``sources`` says where images and regions come from, ``runner`` segments them (in
process or on servers), ``ledger`` and ``journal`` make it resumable and all-or-nothing, and
``paquo_project`` is the ONE module that imports paquo.

May import: every room below it (records, geometry, formats, inference, rpc). Importing ``ledger``,
``journal``, ``sources`` or ``run`` must not load torch: inference is imported only where a model runs.
"""
