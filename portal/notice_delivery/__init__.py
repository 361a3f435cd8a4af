"""How notices get through (docs/protocol.md, "Retries, disabling and replay"): beside the sending in
portal/notices.py,

- `outcomes`: what an attempt's outcome does beyond its row: the next attempt on the published
  schedule (portal/backoff.py), and the endpoint's health: failing since its first failure after a
  success, disabled after NOTICE_DISABLE_AFTER_DAYS of nothing but failures (or at once on 410 Gone),
  its organisation's staff then e-mailed;
- `services`: staff's replay of a notice of the last NOTICE_REPLAY_DAYS (same webhook-id, a new attempt),
  re-enabling a disabled endpoint, the e-mail, and the sweep of lost replays and e-mails;
- `views` and `api`: the console's buttons and the signed member API.
"""
