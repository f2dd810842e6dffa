"""What the two services share to run: settings, HTTP helpers and middleware, access tokens,
metrics, logging, Kafka client options. The event contracts are in `shared.contracts`."""
