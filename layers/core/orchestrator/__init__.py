"""Orchestrator core package: domain, services, ports and adapters."""
