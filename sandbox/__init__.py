"""The local Slack stand-in (Web API, response_url, Socket Mode, signed requests into the bot),
used by the tests and by `pulse sandbox`."""
