"""Writes of the closed loop: routing, case changes, the SLA sweep, notifications,
customer messages and follow-up surveys."""
