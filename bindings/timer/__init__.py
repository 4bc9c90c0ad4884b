"""The timer trigger: NCRONTAB and interval schedules, run once per occurrence across every worker."""
