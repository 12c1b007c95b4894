"""Tools over IR graphs: ``dot`` draws a graph for Graphviz (``flowir graph``).

Tools import only ``flowir.ir``.
"""
