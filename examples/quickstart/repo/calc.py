"""A tiny calculator, written by an agent under overseer's supervision."""


def add(a, b):
    raise NotImplementedError


def divide(a, b):
    raise NotImplementedError


def mean(xs):
    raise NotImplementedError
