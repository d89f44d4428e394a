# The shared fixtures (infra, nats_client, jetstream, mail_dir…) from the test kit.
pytest_plugins = ["guichet_testkit.plugin"]
