"""Article texts written for the dedup tests (fictional events, our own words)."""

# Chinese and Japanese punctuation is full-width by nature, not a typo.
# ruff: noqa: RUF001

from __future__ import annotations

BRIDGE = [
    "The city council of Marlow voted on Tuesday to close the old Kessel Bridge to all "
    "motor traffic from next month, after engineers found deep cracks in two of its "
    "supporting piers during a routine inspection in the spring.",
    "The bridge, which opened in 1931 and carries about 14,000 vehicles a day across the "
    "river Arden, will remain open to pedestrians and cyclists while a replacement is "
    "designed, officials said.",
    "Councillor Hannah Reyes, who chairs the transport committee, said the decision had "
    'not been taken lightly. "Nobody wants to lose a crossing that so many people rely '
    'on, but the report left us no responsible alternative," she told the meeting.',
    "Drivers will be diverted over the Northgate ring road, adding between ten and twenty "
    "minutes to journeys at peak times, according to the council's own traffic model. "
    "Bus routes 4 and 17 will be rerouted as well.",
    "Local businesses on Bridge Street warned that the closure could cut their trade "
    "sharply. The owner of a bakery near the eastern end said takings had already fallen "
    "during earlier lane restrictions and that a full closure would be far worse.",
    "A new crossing is expected to cost about 38 million pounds. The council has applied "
    "for national infrastructure funding but does not expect an answer before the end of "
    "the year, and construction could take up to three years once work begins.",
    "Engineers said the cracks were most likely caused by decades of heavier traffic than "
    "the bridge was built for, combined with repeated flooding that has weakened the "
    "foundations of the river piers.",
    "Residents will be able to comment on three outline designs for the new bridge at a "
    "series of public meetings in the town hall over the summer, the council said.",
]

ORCHESTRA = [
    "The Halden Youth Orchestra will tour five countries this autumn, its first journey "
    "abroad since the ensemble was founded by a group of music teachers twelve years ago.",
    "Ninety musicians aged between fourteen and twenty-one will perform in concert halls "
    "in Vienna, Prague, Ljubljana, Zagreb and Budapest over three weeks in October.",
    "The programme includes a new piece written for the orchestra by the composer Ilse "
    "Varga, who said she had tried to capture the restless energy of rehearsals she "
    "attended last winter.",
    "Parents and local firms raised most of the money for the trip through concerts, "
    "raffles and a crowdfunding campaign that passed its target within a month, according "
    "to the orchestra's director, Tomas Lindqvist.",
    "For many of the players it will be the first time they have performed outside their "
    "home region. Rehearsals have moved to four evenings a week to prepare.",
    "The orchestra hopes to record the tour programme next spring and to invite an "
    "ensemble from one of the host cities to visit Halden in return.",
]

# A later article on the bridge story: new reporting around two background
# paragraphs of BRIDGE (a hard negative, not a copy).
BRIDGE_FOLLOW_UP = [
    "Traffic queues stretched for more than a mile on the Northgate ring road on Monday "
    "morning, the first working day since the Kessel Bridge in Marlow was closed to cars.",
    "Commuters reported journeys taking twice as long as usual, and several schools near "
    "the ring road asked parents to allow extra time for the school run this week.",
    "The council said it would review the timing of traffic lights at three junctions "
    "and was considering a temporary shuttle bus between the two banks of the river.",
    BRIDGE[1],
    BRIDGE[6],
    "Opposition councillors called for an emergency meeting to discuss whether a "
    "temporary steel crossing could be installed while the permanent replacement is built.",
]

# Templated daily figures: instances differ only in their numbers.
MARKETS_TEMPLATE = (
    "The main share index closed up {a} percent at {b} points on Thursday, as banks and "
    "energy companies led gains across the market in a busy session.\n\n"
    "The index of mid-sized companies rose {c} percent to {d}, while the currency traded "
    "at {e} against the dollar by the close of trading.\n\n"
    "Government bond yields fell, with the ten-year yield down to {f} percent, and oil "
    "futures were {g} percent higher at {h} dollars a barrel.\n\n"
    "Trading volumes were about {i} million shares, slightly above the average for the "
    "past month, according to exchange data published after the close."
)
MARKETS_DAY_1 = MARKETS_TEMPLATE.format(
    a="0.42", b="7,512.3", c="0.31", d="19,204.6", e="1.2741", f="4.12", g="1.3", h="82.55", i="812"
)
MARKETS_DAY_2 = MARKETS_TEMPLATE.format(
    a="0.87", b="7,588.1", c="0.12", d="19,066.2", e="1.2698", f="4.05", g="0.4", h="81.20", i="755"
)

# A Chinese article and an unrelated one, written without spaces.
ZH_METRO = (
    "本市地铁五号线于周一正式开通运营，全长二十八公里，共设二十二座车站。"
    "市交通局表示，新线路将把城东居民前往市中心的通勤时间缩短约一半。"
    "开通首日，大量市民前往体验，早高峰期间部分车站出现排队现象。"
    "工作人员在各站加强引导，确保乘客安全有序进出。"
    "交通局负责人介绍，五号线采用全自动驾驶系统，列车最高时速为一百公里。"
    "未来两年内，该市还将建设两条新线路，以缓解地面交通压力。"
    "有市民表示，新线路开通后，上班不再需要换乘两次公交车，非常方便。"
    "专家认为，轨道交通的发展将带动沿线商业和住宅开发。"
)
ZH_RAIN = (
    "气象台周二发布暴雨黄色预警，预计未来三天全市将迎来强降雨天气，局部地区累计降雨量可能超过一百五十毫米。"
    "防汛部门已提前检查排水设施，并在低洼路段安排抽水设备。"
    "教育部门通知，如降雨持续，部分学校可能调整上课时间。"
    "气象专家提醒市民尽量减少外出，驾车时注意积水路段，远离河道和山区。"
    "农业部门也呼吁农户及时加固大棚，做好排涝准备。"
    "据统计，今年入汛以来，全市平均降雨量较往年同期偏多三成。"
)
# A wire-agency prefix, as syndicators add to Chinese copy.
ZH_AGENCY_PREFIX = "新华社消息，"
JA_LIBRARY = (
    "市立図書館は来月から開館時間を午後九時まで延長すると発表した。"
    "仕事帰りの利用者からの要望が多かったためで、平日の夜間には学習スペースも開放される。"
    "図書館によると、昨年度の利用者数は前年より約一割増えた。"
    "担当者は「より多くの市民に気軽に本に触れてほしい」と話している。"
    "延長に合わせて、電子書籍の貸し出しサービスも拡充される予定だ。"
)
TH_RAIN = (
    "กรมอุตุนิยมวิทยาประกาศเตือนว่าจะมีฝนตกหนักในหลายจังหวัดทางภาคเหนือตลอดสัปดาห์นี้ "
    "ประชาชนที่อาศัยอยู่ในพื้นที่ลาดเชิงเขาควรระวังน้ำป่าไหลหลากและดินถล่ม "
    "เจ้าหน้าที่ได้เตรียมเครื่องสูบน้ำและเรือไว้ช่วยเหลือผู้ประสบภัยแล้ว "
    "โรงเรียนหลายแห่งประกาศหยุดการเรียนการสอนชั่วคราวเพื่อความปลอดภัยของนักเรียน"
)


def text(paragraphs: list[str]) -> str:
    """Paragraphs joined as the cleaner emits them."""
    return "\n\n".join(paragraphs)
