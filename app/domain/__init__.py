"""Pure domain model: aggregates, commands, events. Standard library only."""
