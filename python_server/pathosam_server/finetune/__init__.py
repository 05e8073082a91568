"""Fine-tuning room: QuPath regions -> training windows -> micro-sam / torch-em training -> a servable model folder.

May import inference, batch (sources) and the rooms below; only the CLI imports it.
"""
