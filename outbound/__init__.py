"""The outbound Slack side: the senders (announcements, surveys, digests), their pacer, the people
directory over the Web API, HTTP sessions and the chart upload."""
