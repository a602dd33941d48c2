"""The job lifecycle: statuses, the only transitions between them, and the queues that hand jobs to workers."""
