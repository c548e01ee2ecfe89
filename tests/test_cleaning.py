"""Text normalisation (crawler.text.normalize) and boilerplate line filters (crawler.text.cleaning)."""

from __future__ import annotations

from crawler.text.cleaning import clean_lines, clean_text, is_boilerplate_line, is_byline, trim_tail
from crawler.text.normalize import fold_width, normalize_for_hash, normalize_lines, normalize_text


class TestTextnorm:
    def test_full_width_digits_and_letters_become_ascii(self) -> None:
        assert normalize_text("２０２４年ＧＤＰ增长５．２％") == "2024年GDP增长5.2%"

    def test_chinese_punctuation_is_kept(self) -> None:
        text = "赣市府发〔2022〕5号：“一、总体要求”（试行）；完成！"
        assert normalize_text(text) == text

    def test_whitespace_collapses_and_invisible_characters_go(self) -> None:
        assert normalize_text("\u3000\u3000第一段\u00a0\u00a0内容\u200b\n\t结束  ") == "第一段 内容 结束"
        assert fold_width("\ufeff标题\ue5c2") == "标题"  # BOM and a private-use icon character

    def test_normalize_lines_keeps_paragraphs_and_cells(self) -> None:
        raw = "  第一段  \n\n\n　　第二段\n\t项目 \t  金额\t\n"
        assert normalize_lines(raw) == "第一段\n第二段\n项目\t金额"

    def test_normalize_lines_can_join_cjk_layout_spaces(self) -> None:
        assert normalize_lines("中国 经济 Policy Radar", join_cjk_gaps=True) == "中国经济 Policy Radar"

    def test_hash_form_ignores_layout_width_and_punctuation(self) -> None:
        a = "赣州市：2024年GDP增长5.2%。\n（来源：赣南日报）"
        b = "赣州市  ２０２４年ｇｄｐ增长５.２％ (来源:赣南日报)"
        assert normalize_for_hash(a) == normalize_for_hash(b)
        assert normalize_for_hash(a) != normalize_for_hash("赣州市2024年GDP增长5.3%")


class TestCleaning:
    def test_boilerplate_lines(self) -> None:
        for line in (
            "赣ICP备05004418号",
            "京公网安备 11010502030123号",
            "版权所有：赣州市人民政府 网站标识码：3607000001",
            "（责任编辑：李四）",
            "编辑：王五",
            "【打印本页】【关闭窗口】",
            "分享到：",
            "上一篇：关于做好安全生产工作的通知",
            "新闻热线：0797-8888888",
            "投稿邮箱：news@example.cn",
            "（原标题：富乐德·长飞半导体项目落户黄冈助力现代产业集群构建）",
        ):
            assert is_boilerplate_line(line), line

    def test_prose_is_not_boilerplate(self) -> None:
        assert not is_boilerplate_line("园区负责人表示，将持续优化营商环境，确保全年工业投资增长15%以上。")
        # long sentences that mention a keyword in passing stay
        long_line = "会议指出，要加强知识产权保护，对侵犯版权所有人合法权益的行为依法严厉打击，" * 3
        assert not is_boilerplate_line(long_line)
        assert not is_boilerplate_line("他说，微信扫一扫就能办理的事项越来越多，群众少跑了很多腿。")

    def test_bylines(self) -> None:
        assert is_byline("发布时间：2024-01-05 10:20 来源：新华社 作者：张三")
        assert is_byline("2024-01-05 10:20")
        assert is_byline("来源：赣南日报")
        assert not is_byline("2024年1月5日，瑞金市举行重大项目集中签约仪式。")
        assert not is_byline("2024年1月5日", bare_dates=False)

    def test_trim_tail_cuts_related_section_at_the_end_only(self) -> None:
        lines = ["第一段正文。", "文中提到相关新闻稿件的处理办法。", "第三段正文。"]
        lines += ["相关新闻", "另一条新闻标题", "又一条新闻"]
        assert trim_tail(lines) == ["第一段正文。", "文中提到相关新闻稿件的处理办法。", "第三段正文。"]
        # a 相关文章 heading in the first half is a sub-heading of the article, not the tail
        early = ["相关文章", "正文一。", "正文二。", "正文三。"]
        assert trim_tail(early) == early

    def test_trim_tail_keeps_a_signature_date(self) -> None:
        lines = ["特此通告。", "吉林省人民政府", "2022年1月27日", "（责任编辑：李四）"]
        assert trim_tail(lines) == ["特此通告。", "吉林省人民政府", "2022年1月27日"]

    def test_clean_lines_and_text(self) -> None:
        assert clean_lines(["正文。", "赣ICP备05004418号", "结尾。"]) == ["正文。", "结尾。"]
        assert clean_text("正文一。\n正文二。\n（责任编辑：李四）\n打印本页 关闭窗口") == "正文一。\n正文二。"
