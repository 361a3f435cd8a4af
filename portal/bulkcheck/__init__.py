"""Bulk checks as files (as the FCC's reassigned-numbers database offers them): a member's file of up to
250,000 `number,date` rows, uploaded in the console or by API, checked in the background a chunk at a time
with the same rule as the 1,000-number call, its result a CSV kept 7 days."""
