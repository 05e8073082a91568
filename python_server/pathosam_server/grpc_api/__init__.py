"""Generated gRPC stubs (tools/generate_stubs.py); do not edit by hand."""
