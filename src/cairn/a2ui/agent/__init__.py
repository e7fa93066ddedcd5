"""Agents: turn typed requests and UI actions into streams of A2UI messages."""

from cairn.a2ui.agent.base import Agent

__all__ = ["Agent"]
