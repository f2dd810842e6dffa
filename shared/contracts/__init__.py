"""The event contracts: what a consumer of the topics needs (the events and their envelope, their
serialization, the CloudEvents mapping of a Kafka record, the AsyncAPI document). No web framework,
no service settings: an outside Kafka consumer can import this package alone."""
