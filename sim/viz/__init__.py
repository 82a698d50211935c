"""Teaching dashboard and classroom lessons.

``peersupport dashboard [SCENARIO]`` serves ``sim.viz.app`` (Mesa's SolaraViz, Solara):
one or two arms of ``PeerSupportModel`` on the same patients, stepping together
(``sim.viz.classroom``), drawn as SVG (``sim.viz.svg``, ``sim.viz.page``). The levers and
contrasts are in ``sim.viz.arms``; the lessons and their checks in ``sim.viz.lessons``.
Only ``classroom`` and ``app`` import Mesa or Solara.
"""
