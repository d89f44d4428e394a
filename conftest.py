pytest_plugins = ["guichet_kit.testing"]
