"""Guest-side helpers the VM tests (and bench) share: ramzswap control, swap
set-up and the hog, fault injection, the sysfs input model."""
