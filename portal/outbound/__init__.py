"""Outbound calls to member platforms: the policy (which destinations may be called, `policy.py`) and
the HTTP clients held to it (`clients.py`). Every call to a URL a member chose goes through here."""
