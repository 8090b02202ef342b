"""rexsim's simulator: agent-based enterprises trading on the exchange, scenarios and a recorder."""

__all__: list[str] = []
