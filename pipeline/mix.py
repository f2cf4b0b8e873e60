"""placeholder"""


def add_parser(sub):
    return None
