"""The rules of a workshop, in plain Python: no Flask request objects in here.

Every write goes through a function of this package, which checks the phase, the budget and
the rights, writes in one transaction, and returns what happened. Pages, the JSON API and the
Socket.IO handlers only translate input and output.
"""
