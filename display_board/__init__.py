"""Public and staff screens of the hall: hall board, window displays, counter soft keypad, manager board."""
