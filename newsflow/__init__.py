"""The operator's side of newsflow: the ``newsflow`` command, infra setup, the demo."""
