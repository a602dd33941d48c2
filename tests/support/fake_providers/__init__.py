"""Fake hosted providers on loopback, each written from its provider's public API documentation, with
scenario switches (slow jobs, 429 then success, 5xx, content-policy refusals, jobs that never end,
malformed answers, outputs that 404 or are huge) and a record of what reelserve sent them."""
