"""The one outbound HTTP client: SSRF-safe fetching of user-given URLs, webhook deliveries, provider calls."""
