"""PathoSAM for QuPath: a gRPC server that segments and classifies nuclei with PathoSAM (micro-sam)."""

__version__ = "0.1.0"
