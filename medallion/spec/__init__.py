"""What the stack and the local runtime both render: the state machine definition and the views."""
