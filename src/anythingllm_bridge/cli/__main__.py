"""``python -m anythingllm_bridge.cli`` — the same as ``allm``."""

from anythingllm_bridge.cli.app import main

main()
