"""gRPC room: every proto <-> Python conversion (``wire``), the servicer (``service``: validation and
limits, no model code), the server set-up (``server``) and the Python client (``client``) that batches
and notebooks use. The only room that imports the generated stubs in ``grpc_api``.

May import: records, classes, errors, geometry, inference (the servicer runs the pipeline).
"""
