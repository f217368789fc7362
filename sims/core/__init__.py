"""Machinery shared by every simulator: world, clock, faults, journal, mailbox, keys, serving."""
