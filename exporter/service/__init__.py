"""The running exporter: the latest state of every target, polling, scheduling, wiring, reload."""
