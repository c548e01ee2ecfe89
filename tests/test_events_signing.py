"""Signing and opening language by class: which agreements are investment signings, whose place
they are, and which starts of operation open a facility.

Sentences written for these tests, one per class of wording found on the drawn dev parts
(tests/data/events/README.md, decisions 8, 18 and 19).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.events.detect import detect_events
from crawler.events.rules import RuleError, load_rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a ceremony held is reported even when its project comes with 的
        ("10月15日，南京市与某某集团举行了年产10万吨项目的签约仪式。", [("signing", "project")]),
        # … but a ceremony that only sets the scene is not
        ("在北京举行的工行与民营骨干企业合作协议签约仪式上，正泰与工行签署合作协议。", []),
        # attending names the ceremony in its own clause; the signing reported beside it counts
        ("辽宁省政府与某某集团战略合作签约仪式在沈阳举行，省长会见董事长并共同出席签约仪式。",
         [("signing", "agreement")]),
        ("某某集团董事长出席了签约仪式。", []),
        # projects as the object of 签下
        ("某某集团在座谈会上签下云南37个项目，总签约金额达到490亿元。", [("signing", "aggregate")]),
        # an intention reached at a signing, with a project count: an aggregate
        ("在签约仪式上，长春市政府与某某集团等14个项目达成合作意向，签约金额87.07亿元。",
         [("signing", "aggregate")]),
        # a joint venture's shareholding is not a share deal
        ("公司与某某城建签订《合资协议》，共同设立合资公司，其中某某城建出资1.95亿元，持有合资公司39%股权。",
         [("signing", "agreement")]),
        # research and technology cooperation is not an investment signing
        ("某某公司与某某农业大学合作的“植物提取物研究开发”项目签约仪式在长沙启动。", []),
        ("公司签署了对外付费的研发合作合同1000多份。", []),
        # bank short names and branches sign finance
        ("8月19日，建行贺兰支行与贺兰县退役军人事务局综合金融服务平台签约。", []),
        # contracts for work or land with a government
        ("公司与某某县交通运输局签订《某某公路项目施工合同》。", []),
        ("公司子公司与政府签署《老厂区整体搬迁补偿协议》。", []),
        ("公司与某某市国土资源局签订了《国有建设用地使用权出让合同》。", []),
        # a board (董事局) is no public bureau; 推动工业 holds no 动工
        ("签约仪式在某某集团总部举行，月星集团董事局主席参加了仪式。", []),
        ("两家公司签约，双方将共同推动工业大麻的产业发展。", []),
        # a ceremony and the agreement signed at it, in one sentence, are one signing
        ("广东博智林机器人有限公司、华为技术有限公司及顺德区政府在碧桂园集团总部举行三方战略合作签约仪式，三方签约。",
         [("signing", "agreement")]),
        ("某某市政府与某某集团签约仪式在京举行，双方签署了战略合作框架协议。", [("signing", "agreement")]),
        # projects settling: a count makes an aggregate; a trend, a stock of firms, a perk are none
        ("今年以来，共有15个亿元以上项目落户该区。", [("signing", "aggregate")]),
        ("某某科技的研发中心已落户苏州。", [("signing", "project")]),
        ("随着越来越多的企业落户园区，产业集聚效应逐步显现。", []),
        ("园区已落户企业200余家。", []),
        ("落户该区的企业可享受税收优惠。", []),
        # words that hold 局, 政府 or 市 name no public party
        ("公司与某某科技签署战略合作协议，进一步完善公司产业布局。", []),
        ("公司与某某科技签署战略合作协议，本年度获得政府补助500万元。", []),
        ("公司与某某科技签署合作协议，推动产品与国际市场接轨。", []),
        ("公司与某某市商务局签署投资合作协议。", [("signing", "agreement")]),
        # a plain 协议书 whose terms say the company invests there
        ("公司与某某县人民政府签订了《协议书》，约定公司在该县投资建设光伏电站。", [("signing", "agreement")]),
        ("公司与某某县人民政府签订了《协议书》，约定由政府提供土地。", []),
        # an announcement of a signing reports it; a signing as an attribute does not
        ("关于与宜兴市人民政府签订投资协议的公告", [("signing", "agreement")]),
        ("签订投资协议的企业可享受优惠。", []),
        # a project landing with its place between (…项目在某地落地); 落地见效 stays no event
        ("某某新能源项目在萧山区顺利落地。", [("signing", "project")]),
        ("某某项目在萧山区落地见效。", []),
        # social-service agencies sign services, financial groups finance: neither is investment
        ("深圳市退役军人事务局和深圳市第二人民医院合作协议签约仪式举行。", []),
        ("某某区民政局与某某养老服务公司签署合作协议。", []),
        ("省政府与某某保险集团在南昌签署战略合作协议。", []),
        ("省政府与某某证券公司签署战略合作协议。", []),
        ("省政府与某某实业集团在南昌签署战略合作协议。", [("signing", "agreement")]),
        # rooms, situations and words ending in 市 or 区 name no public party
        ("签约仪式在甲公司展厅举行，甲公司与乙公司签署战略合作协议。", []),
        ("面对行业变局，甲公司与乙公司签署战略合作协议。", []),
        ("甲公司成功上市和乙科技签署战略合作协议。", []),
        ("某某超市与某某供应商签订合作协议。", []),
        ("某某景区与某某旅行社签署战略合作协议。", []),
        ("萧山区和某某集团签署战略合作协议。", [("signing", "agreement")]),
        ("甲公司与某某省商务厅签署投资合作协议。", [("signing", "agreement")]),
        # an agreement signed before, cited as a ground, as a noun or in a progress notice, is not
        # reported again
        ("根据公司与宜宾市人民政府签署的投资协议，公司在当地投资10亿元建设锂电池项目。", []),
        ("公司与宜宾市人民政府签署的投资协议已终止。", []),
        ("公司与宜宾市人民政府签署投资协议事项进展公告。", []),
        ("公司于2018年与宜宾市人民政府签订投资协议，总投资20亿元。", [("signing", "agreement")]),
        # a province or city written short as one side of an agreement stands for its government;
        # a company named after its city does not
        ("腾讯与重庆签署战略合作协议。", [("signing", "agreement")]),
        ("重庆与腾讯签署战略合作协议。", [("signing", "agreement")]),
        ("某某集团和南昌日前正式签约。", [("signing", "agreement")]),
        ("甲公司与青岛啤酒签署战略合作协议。", []),
        ("甲公司在重庆与乙公司签署合作协议。", []),
        # a project as the object of 签订 is a project signed; its works contract is not
        ("某某公司与宜宾市签订了总投资50亿元的锂电池项目。", [("signing", "project")]),
        ("某某公司与宜宾市交通运输局签订了某某公路项目施工合同。", []),
        # a section that starts work first (先期开工段) is a noun, not a start
        ("公司中标某某城际铁路站前工程施工（不含先期开工段）。", []),
        # (fourth round, classes read on drawn_dev3.yaml) a firm that signs to move into an area or a
        # park settles there, its name in an earlier clause or not; a tenant moving into a building
        # does not
        ("某某连锁超市，于今年3月正式签约入驻株洲市芦淞区，选址某某大道18号。", [("signing", "project")]),
        ("甲公司于去年签约入驻苏州工业园区。", [("signing", "project")]),
        ("某某品牌正式签约入驻某某广场。", []),
        # a share deal in a clause of its own (…，并通过收购…股权…) is another act of the company
        ("甲公司与某某省8个区县签署框架协议，合计投资建设充电桩5万个，并通过收购乙公司51%股权进入某某市场。",
         [("signing", "agreement")]),
        ("甲公司与某某市政府签署协议，收购乙公司股权。", []),
        # a joint venture's shareholding, "60%的股权", and a firm adding capacity (增资扩产) are no share deals
        ("甲公司与乙公司就共同出资设立检测中心事宜签订了《投资合作合同》，其中甲公司持有标的公司60%的股权。",
         [("signing", "agreement")]),
        ("本次集中签约项目25个，以重点企业增资扩产项目为主，协议投资额达202亿元。", [("signing", "aggregate")]),
        # an intention agreement on investment with a government; a plan word inside a company name
        ("新希望六和等8家企业与衡阳市人民政府签订了招商投资意向协议，总投资为15亿元。", [("signing", "agreement")]),
        # a ceremony named with 的 is reported when it is the subject of 举行 after it
        ("甲集团、乙公司和某某新区三方的签约仪式在香港举行。", [("signing", "project")]),
        ("甲集团与某某新区的签约仪式上，双方负责人致辞。", []),
        # a signing as a time (…签约之前, …签约以来) is recalled, not reported
        ("在某某省政府与某某集团签约之前，双方的合作早已开始。", []),
        ("自某某市政府与某某集团签约以来，项目进展顺利。", []),
        # a developer's land bank (已签约或已摘牌的项目) is property, not investment signings
        ("截至6月底，某某地产已签约或已摘牌的项目总数为2381个。", []),
        # 集中签约现场 is where two companies sign, not a collective signing of projects
        ("甲网与乙云在某某博览会集中签约现场签订战略合作协议。", []),
        # a purpose verb governing the event: projects are to land, not landed
        ("园区现场与甲公司等4个项目签约，促进大赛优秀项目落地。", [("signing", "aggregate")]),
    ],
)
def test_signing_classes(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(e.type, e.subtype) for e in detect_events(text)] == expected


def test_a_place_party_pattern_must_say_where_the_place_stands(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions:\n  place_party: '与(?:市|省)签'\n", encoding="utf-8")
    with pytest.raises(RuleError, match="place"):
        load_rules([bad])


def test_signed_funds_are_the_signings_amount() -> None:
    (event,) = detect_events("某某县招商引资项目签约仪式举行，共签约项目8个，签约资金52亿元。")
    assert (event.subtype, event.project_count, event.amount_cny) == ("aggregate", 8, 52e8)


@pytest.mark.parametrize(
    ("text", "region"),
    [
        # the public party's place, not a company named after another place or the venue
        ("5月23日上午，天全县人民政府与辽宁福鞍控股（集团）有限公司举行锂电池负极材料生产线项目签约仪式。",
         "四川省雅安市天全县"),
        ("7月26日，吉林省政府与中国航空工业集团在长春签署战略合作框架协议。", "吉林省"),
        # a place as one side of the agreement is a party, not the home of the company after 与
        ("10月15日，南京市与某某集团举行了年产10万吨项目的签约仪式。", "江苏省南京市"),
        # a city's zone or bureau as the party, not a company's home province or city
        ("如皋市经济技术开发区与湖南著名上市企业某某粮油股份有限公司举行签约仪式，总投资约12亿元的油脂生产基地项目正式落户。",
         "江苏省南通市如皋市"),
        ("岳阳市文化旅游广电局与北京某某国旅举行旅游专列签约仪式。", "湖南省岳阳市"),
        # a city hosting its own signing elsewhere: the venue is not the place
        ("许昌市在北京召开项目签约仪式，19个项目在现场成功签约，总投资达100.7亿元。", "河南省许昌市"),
        # a bay named like a city is not that city (杭州湾上虞经济技术开发区 lies in 绍兴)
        ("杭州湾上虞经济技术开发区项目签约仪式在上虞区举行，甲公司与开发区签订了投资53亿元的新材料产业园项目。",
         "浙江省绍兴市上虞区"),
    ],
)
def test_a_signing_is_its_public_partys(text: str, region: str) -> None:
    (event,) = detect_events(text)
    assert event.region == region


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # mass production begun at a plant or line opens it; a product in mass production does not
        ("公司新建的生产线已实现量产。", [("opening", "production")]),
        ("公司5G芯片已实现量产。", []),
        # a fund or a company that starts operating is no facility
        ("该基金于2019年正式运营。", []),
        ("公司旗下第100家门店正式开业。", [("opening", "business")]),
        # accounting and paperwork named after completion
        ("公司收到工程竣工结算款1.2亿元。", []),
        ("工程完工百分比法确认收入。", []),
        ("公司新厂房于上月竣工。", [("opening", "completion")]),
        # 至今 dates, as 以来 does
        ("公司先后建成了苏州工厂、无锡工厂。", [("opening", "completion")]),
        ("公司自开业至今累计服务客户10万人次。", []),
        # 以来 dates what follows from a start reported elsewhere
        ("项目投产以来，累计实现产值50亿元。", []),
        ("工程竣工以来，运行平稳。", []),
        # how busy works are is no start
        ("某某公司在手订单充足，工厂满负荷开工。", []),
        # a hub opening (an airport, a port) is a line opening to traffic; its construction is an opening
        ("某某国际机场正式投入运营。", []),
        ("某某国际机场航站楼开工建设。", [("opening", "groundbreaking")]),
        # a product put into production under a supply contract is no plant starting production
        ("公司中标某某电器控制器项目，该产品投产开始分四年履行完成。", []),
        # 促进/助力 in a name is no purpose
        ("某某合作促进创新示范园建成运营。", [("opening", "business")]),
    ],
)
def test_opening_classes(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(e.type, e.subtype) for e in detect_events(text)] == expected
