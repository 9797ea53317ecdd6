"""The ``allm`` command line (typer + rich). Entry point: :func:`anythingllm_bridge.cli.app.main`."""
