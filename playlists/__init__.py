"""The scheduling domain: screens, groups, playlists, schedules and the resolver (see the issues that build it)."""
