#!/usr/bin/env python3
"""Generate a labelled corpus of Japanese/English business documents for `mamori inspect`.

    python3 generate.py OUT_DIR [--seed N] [--chromium PATH] [--font TTF] [--no-chromium]

Writes the documents under OUT_DIR plus:
  truth.jsonl      one line per expected finding  {"file","type","value","ctx"}
  negatives.jsonl  planted look-alikes            {"file","kind","value"}
  files.jsonl      one line per file               {"file","format","producer"}

The corpus is written independently of the detector's code: the truth follows the user-facing
specification only (docs/inspect.md and the issue).  Every entity is planted together with the
context a human reader would need to recognise it (a label word, a column header, 〒 …).

Needs python-docx, openpyxl, python-pptx and reportlab (scripts/content-eval installs pinned
versions), a Japanese TrueType font for reportlab, and optionally Chromium for HTML→PDF.
"""
import argparse
import concurrent.futures
import csv
import html
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unicodedata

# --------------------------------------------------------------------------------------------
# Check digits
# --------------------------------------------------------------------------------------------


def my_number_check(d11):
    """Check digit for the 11 leading digits of a My Number (official formula)."""
    assert len(d11) == 11
    s = 0
    for n in range(1, 12):  # n counted from the right
        p = int(d11[11 - n])
        q = n + 1 if n <= 6 else n - 5
        s += p * q
    r = s % 11
    return 0 if r <= 1 else 11 - r


def my_number_valid(d12):
    return len(d12) == 12 and d12.isdigit() and my_number_check(d12[:11]) == int(d12[11])


def corporate_check(d12):
    """Check digit (the FIRST digit) of a corporate number over the 12 following digits."""
    assert len(d12) == 12
    s = 0
    for n in range(1, 13):
        p = int(d12[12 - n])
        q = 1 if n % 2 == 1 else 2
        s += p * q
    return 9 - (s % 9)


def corporate_valid(d13):
    return len(d13) == 13 and d13.isdigit() and corporate_check(d13[1:]) == int(d13[0])


def luhn_ok(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        v = int(ch)
        if i % 2 == 1:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return total % 10 == 0


def luhn_complete(partial):
    for c in "0123456789":
        if luhn_ok(partial + c):
            return partial + c
    raise AssertionError


def ean_complete(d12):
    s = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(d12))
    return d12 + str((10 - s % 10) % 10)


# Known public examples.
assert corporate_valid("5010401067252")  # a well-known listed company's number
assert corporate_valid("1180301018771")
assert luhn_ok("4539578763621486") and not luhn_ok("4539578763621487")
assert my_number_check("12345678901") == 8

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

SURNAMES = [("佐藤", "Sato"), ("鈴木", "Suzuki"), ("高橋", "Takahashi"), ("田中", "Tanaka"),
            ("伊藤", "Ito"), ("渡辺", "Watanabe"), ("山本", "Yamamoto"), ("中村", "Nakamura"),
            ("小林", "Kobayashi"), ("加藤", "Kato"), ("吉田", "Yoshida"), ("山田", "Yamada"),
            ("佐々木", "Sasaki"), ("山口", "Yamaguchi"), ("松本", "Matsumoto"), ("井上", "Inoue"),
            ("木村", "Kimura"), ("林", "Hayashi"), ("清水", "Shimizu"), ("森", "Mori"),
            ("池田", "Ikeda"), ("橋本", "Hashimoto"), ("石川", "Ishikawa"), ("前田", "Maeda")]
GIVEN = [("太郎", "Taro"), ("花子", "Hanako"), ("健一", "Kenichi"), ("美咲", "Misaki"),
         ("大輔", "Daisuke"), ("由美", "Yumi"), ("翔太", "Shota"), ("愛", "Ai"),
         ("直樹", "Naoki"), ("恵", "Megumi"), ("拓也", "Takuya"), ("さくら", "Sakura"),
         ("誠", "Makoto"), ("陽子", "Yoko"), ("浩二", "Koji"), ("真由美", "Mayumi"),
         ("亮", "Ryo"), ("葵", "Aoi"), ("隆", "Takashi"), ("彩", "Aya")]
KANA_RELATION = ["妻", "長男", "長女", "次男", "次女", "父", "母"]
DEPTS = [("人事部", "Human Resources"), ("経理部", "Finance"), ("営業部", "Sales"),
         ("総務部", "General Affairs"), ("情報システム部", "IT"), ("開発部", "Engineering"),
         ("法務部", "Legal"), ("購買部", "Procurement")]
# (prefecture, city, town, postal prefix, area code, area layout, romaji city, romaji pref)
PLACES = [("東京都", "千代田区", "丸の内", "100", "03", (2, 4, 4), "Chiyoda-ku", "Tokyo"),
          ("東京都", "港区", "芝浦", "108", "03", (2, 4, 4), "Minato-ku", "Tokyo"),
          ("東京都", "新宿区", "西新宿", "160", "03", (2, 4, 4), "Shinjuku-ku", "Tokyo"),
          ("大阪府", "大阪市北区", "梅田", "530", "06", (2, 4, 4), "Kita-ku, Osaka", "Osaka"),
          ("神奈川県", "横浜市西区", "みなとみらい", "220", "045", (3, 3, 4), "Nishi-ku, Yokohama", "Kanagawa"),
          ("愛知県", "名古屋市中村区", "名駅", "450", "052", (3, 3, 4), "Nakamura-ku, Nagoya", "Aichi"),
          ("北海道", "札幌市中央区", "北一条西", "060", "011", (3, 3, 4), "Chuo-ku, Sapporo", "Hokkaido"),
          ("福岡県", "福岡市博多区", "博多駅前", "812", "092", (3, 3, 4), "Hakata-ku, Fukuoka", "Fukuoka"),
          ("京都府", "京都市下京区", "烏丸通", "600", "075", (3, 3, 4), "Shimogyo-ku, Kyoto", "Kyoto"),
          ("宮城県", "仙台市青葉区", "中央", "980", "022", (3, 3, 4), "Aoba-ku, Sendai", "Miyagi"),
          ("埼玉県", "さいたま市大宮区", "桜木町", "330", "048", (3, 3, 4), "Omiya-ku, Saitama", "Saitama"),
          ("千葉県", "千葉市美浜区", "中瀬", "261", "043", (3, 3, 4), "Mihama-ku, Chiba", "Chiba"),
          ("兵庫県", "神戸市中央区", "三宮町", "650", "078", (3, 3, 4), "Chuo-ku, Kobe", "Hyogo"),
          ("広島県", "広島市中区", "基町", "730", "082", (3, 3, 4), "Naka-ku, Hiroshima", "Hiroshima"),
          ("神奈川県", "藤沢市", "鵠沼海岸", "251", "0466", (4, 2, 4), "Fujisawa", "Kanagawa"),
          ("千葉県", "成田市", "花崎町", "286", "0476", (4, 2, 4), "Narita", "Chiba")]
COMPANIES = [("株式会社さくら商事", "Sakura Shoji Co., Ltd.", "sakura-shoji.co.jp"),
             ("みらい電機株式会社", "Mirai Denki Corporation", "mirai-denki.co.jp"),
             ("東和ロジスティクス株式会社", "Towa Logistics Inc.", "towa-logi.co.jp"),
             ("合同会社ひかりデザイン", "Hikari Design LLC", "hikari-design.jp"),
             ("北斗システム株式会社", "Hokuto System Co., Ltd.", "hokuto-sys.co.jp"),
             ("株式会社青葉フーズ", "Aoba Foods Inc.", "aobafoods.co.jp"),
             ("大和精機株式会社", "Yamato Seiki Co., Ltd.", "yamato-seiki.co.jp"),
             ("株式会社ミナト建設", "Minato Kensetsu Co., Ltd.", "minato-kk.co.jp"),
             ("有限会社たちばな印刷", "Tachibana Printing Ltd.", "tachibana-print.jp"),
             ("株式会社グリーンフィールド", "Greenfield K.K.", "greenfield.co.jp")]
BANKS = [("三菱UFJ銀行", "MUFG Bank"), ("三井住友銀行", "Sumitomo Mitsui Banking Corporation"),
         ("みずほ銀行", "Mizuho Bank"), ("りそな銀行", "Resona Bank"),
         ("横浜銀行", "Bank of Yokohama"), ("千葉銀行", "Chiba Bank"), ("静岡銀行", "Shizuoka Bank")]
BRANCHES = ["本店営業部", "丸の内支店", "新宿支店", "渋谷支店", "横浜駅前支店", "梅田支店", "名古屋支店",
            "札幌支店", "博多支店", "大宮支店"]
PRODUCTS = [("A4コピー用紙 500枚×5冊", 2980), ("トナーカートリッジ（黒）", 12800),
            ("ノートPC保守サービス（年間）", 48000), ("会議室利用料（半日）", 15000),
            ("システム開発作業費", 650000), ("クラウド利用料 4月分", 82500),
            ("名刺印刷 100枚", 1650), ("配送料", 1200), ("USBメモリ 64GB", 1980),
            ("ディスプレイ 27インチ", 39800)]
COUNTRIES = [("アメリカ", "USA"), ("シンガポール", "Singapore"), ("ドイツ", "Germany"),
             ("タイ", "Thailand"), ("ベトナム", "Vietnam"), ("イギリス", "UK"), ("台湾", "Taiwan")]
FOREIGN_PHONES = ["+1 415-555-0132", "+1 (212) 555-0187", "+44 (0)20 7946 0958",
                  "+65 6123 4567", "+49 30 12345678", "+66 2 123 4567", "+84 28 3822 1234",
                  "+886 2 2345 6789", "+1-646-555-0143", "+44 161 496 0123"]

# Separator variants inside numbers (the folding list plus ASCII/ideographic space).
SEPS = [("-", 40), (" ", 14), ("‐", 5), ("‑", 4), ("–", 5), ("—", 4), ("−", 5), ("ー", 5),
        ("ｰ", 3), ("－", 6), ("\u3000", 3)]
FW = str.maketrans("0123456789-", "０１２３４５６７８９－")
FW_NOHYPHEN = str.maketrans("0123456789", "０１２３４５６７８９")

M_OPEN, M_CLOSE = "\ue000", "\ue001"  # keeps an entity's text together when laying out PDFs


def clean(s):
    return s.replace(M_OPEN, "").replace(M_CLOSE, "")


# --------------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------------


class Cell:
    __slots__ = ("text", "num")

    def __init__(self, text, num=None):
        self.text = text
        self.num = num  # an int that an xlsx may store as a number instead of the text


class Doc:
    """Blocks: ("h", text) ("p", text) ("kv", [(k, v)]) ("table", header, rows) ("label", text)."""

    def __init__(self, g, kind, lang, title):
        self.g = g
        self.kind = kind
        self.lang = lang
        self.title = title
        self.blocks = []
        self.header = None
        self.footer = None
        self.truth = []
        self.neg = []

    # entities -------------------------------------------------------------------------------
    def ent(self, typ, value, display, ctx):
        self.truth.append((typ, value, ctx, display))
        return M_OPEN + display + M_CLOSE

    def negative(self, kind, value, display):
        self.neg.append((kind, value))
        return M_OPEN + display + M_CLOSE

    def h(self, t):
        self.blocks.append(("h", t))

    def p(self, t):
        self.blocks.append(("p", t))

    def kv(self, pairs):
        self.blocks.append(("kv", pairs))

    def table(self, header, rows):
        self.blocks.append(("table", header, rows))

    def label(self, t):
        self.blocks.append(("label", t))


class Gen:
    def __init__(self, rng, encodable=None):
        self.r = rng
        self.encodable = encodable or (lambda ch: True)
        self.used = set()

    # number formatting ----------------------------------------------------------------------
    def sep(self, allow_space=True):
        choices = [(s, w) for s, w in SEPS if self.encodable(s) and (allow_space or s.strip())]
        return self.r.choices([s for s, _ in choices], [w for _, w in choices])[0]

    def grouped(self, digits, groups, p_plain=0.3, p_fw=0.15, allow_space=True, sep=None):
        r = self.r
        fw = r.random() < p_fw
        if r.random() < p_plain and sep is None:
            out = digits
        else:
            s = sep if sep is not None else self.sep(allow_space)
            parts, i = [], 0
            for gsz in groups:
                parts.append(digits[i:i + gsz])
                i += gsz
            assert i == len(digits)
            out = s.join(parts)
        if fw:
            out = out.translate(FW if self.encodable("－") else FW_NOHYPHEN)
        return out

    def unique(self, f):
        for _ in range(1000):
            v = f()
            if v not in self.used:
                self.used.add(v)
                return v
        raise AssertionError("no unique value")

    def digits(self, n, first="123456789"):
        return self.r.choice(first) + "".join(self.r.choice("0123456789") for _ in range(n - 1))

    # values -----------------------------------------------------------------------------------
    def my_number(self):
        def f():
            d = self.digits(11)
            return d + str(my_number_check(d))
        return self.unique(f)

    def my_number_bad(self):
        def f():
            d = self.digits(11)
            good = my_number_check(d)
            bad = self.r.choice([c for c in range(10) if c != good])
            v = d + str(bad)
            assert not my_number_valid(v)
            return v
        return self.unique(f)

    def corporate(self):
        def f():
            base = self.r.choice(["0100", "0104", "0110", "0111", "1200", "2000", "1300", "3700",
                                  "4700", "6011", "7010", "8011"])
            base += self.r.choice(["01", "02", "03", "05"]) + self.digits(6, "0123456789")
            return str(corporate_check(base)) + base
        return self.unique(f)

    def corporate_bad(self):
        def f():
            v = self.corporate()
            bad = self.r.choice([c for c in "123456789" if c != v[0]])
            return bad + v[1:]
        v = self.unique(f)
        assert not corporate_valid(v)
        return v

    def card(self, issuer=None):
        r = self.r
        issuer = issuer or r.choices(["visa", "master", "master2", "jcb", "amex", "diners"],
                                     [30, 18, 6, 24, 12, 6])[0]
        if issuer == "visa":
            pre, n = "4", 16
        elif issuer == "master":
            pre, n = str(r.randint(51, 55)), 16
        elif issuer == "master2":
            pre, n = str(r.randint(2221, 2720)), 16
        elif issuer == "jcb":
            pre, n = str(r.randint(3528, 3589)), 16
        elif issuer == "amex":
            pre, n = r.choice(["34", "37"]), 15
        else:
            pre, n = r.choice(["36", "300", "301", "302", "303", "304", "305"]), 14

        def f():
            body = pre + "".join(r.choice("0123456789") for _ in range(n - 1 - len(pre)))
            return luhn_complete(body)
        v = self.unique(f)
        return v, issuer

    def card_groups(self, v):
        if len(v) == 16:
            return (4, 4, 4, 4)
        if len(v) == 15:
            return (4, 6, 5)
        return (4, 6, 4)

    def card_bad(self):
        v, iss = self.card(self.r.choice(["visa", "master", "jcb"]))
        last = int(v[-1])
        return v[:-1] + str((last + self.r.randint(1, 9)) % 10)

    def phone(self, place=None, kind=None):
        """Return (national digits, display)."""
        r = self.r
        kind = kind or r.choices(["fixed", "mobile", "ip", "free", "navi", "free0800"],
                                 [50, 30, 5, 7, 4, 4])[0]
        if kind == "fixed":
            pl = place or r.choice(PLACES)
            ac, lay = pl[4], pl[5]
            rest = "".join([r.choice("23456789")] + [r.choice("0123456789") for _ in range(10 - len(ac) - 1)])
            d = ac + rest
        elif kind == "mobile":
            d = r.choice(["070", "080", "090"]) + r.choice("123456789") + self.digits(7, "0123456789")
            lay = (3, 4, 4)
        elif kind == "ip":
            d = "050" + r.choice("123456789") + self.digits(7, "0123456789")
            lay = (3, 4, 4)
        elif kind == "free":
            d = "0120" + r.choice("123456789") + self.digits(5, "0123456789")
            lay = (4, 3, 3)
        elif kind == "navi":
            d = "0570" + r.choice("0123456789") + self.digits(5, "0123456789")
            lay = (4, 3, 3)
        else:
            d = "0800" + r.choice("123456789") + self.digits(6, "0123456789")
            lay = (4, 3, 4)
        if d in self.used:
            return self.phone(place, kind)
        self.used.add(d)
        x = r.random()
        if x < 0.06 and kind in ("fixed", "mobile"):
            # +81 form
            parts, i = [], 1
            first = lay[0] - 1
            parts.append(d[1:1 + first])
            i = 1 + first
            for gsz in lay[1:]:
                parts.append(d[i:i + gsz])
                i += gsz
            disp = "+81-" + "-".join(parts) if r.random() < 0.5 else "+81 " + " ".join(parts)
        elif x < 0.12 and kind == "fixed":
            a, b = lay[0], lay[0] + lay[1]
            disp = r.choice([f"{d[:a]}({d[a:b]}){d[b:]}", f"({d[:a]}) {d[a:b]}-{d[b:]}"])
        else:
            disp = self.grouped(d, lay, p_plain=0.08, p_fw=0.12, allow_space=True)
        return d, disp

    def place(self):
        return self.r.choice(PLACES)

    def postal(self, pl):
        return self.unique(lambda: pl[3] + self.digits(4, "0123456789"))

    def address(self, pl):
        r = self.r
        return f"{pl[0]}{pl[1]}{pl[2]}{r.randint(1, 5)}-{r.randint(1, 20)}-{r.randint(1, 30)}"

    def building(self):
        return self.r.choice(["", "", " 第一ビル3F", " サンシャインハイツ205", " グランドタワー12階", " コーポ桜101"])

    def person(self):
        s, sr = self.r.choice(SURNAMES)
        g, gr = self.r.choice(GIVEN)
        return s, g, sr, gr

    def email_for(self, sr, gr, domain):
        r = self.r
        for _ in range(1000):
            local = r.choice([f"{gr}.{sr}", f"{sr}.{gr}", f"{gr[0]}-{sr}", f"{sr}{r.randint(1, 99)}",
                              f"{gr[0]}{sr}", f"{gr}_{sr}"])
            local = local + r.choice(["", "", "", str(r.randint(2, 99))])
            v = f"{local}@{domain}".lower()
            if v not in self.used:
                self.used.add(v)
                break
        else:
            raise AssertionError("no unique e-mail")
        x = r.random()
        if x < 0.15:
            disp = local + "@" + domain  # mixed case as typed, e.g. Taro.Yamada@...
        elif x < 0.2:
            disp = v.upper() if r.random() < 0.3 else v.split("@")[0] + "@" + domain.upper()
        elif x < 0.27 and self.encodable("＠"):
            disp = v.replace("@", "＠")
        else:
            disp = v
        assert disp.replace("＠", "@").lower() == v
        return v, disp

    def free_email(self, sr, gr):
        dom = self.r.choice(["gmail.com", "yahoo.co.jp", "icloud.com", "outlook.jp", "docomo.ne.jp",
                             "ezweb.ne.jp", "softbank.ne.jp"])
        return self.email_for(sr, gr, dom)

    def bank_account(self):
        return self.unique(lambda: self.digits(7, "0123456789"))

    def passport(self):
        r = self.r
        return self.unique(lambda: r.choice(["TK", "TR", "TZ", "MZ", "ME", "MU", "TS", "RE"]) +
                           self.digits(7, "0123456789"))

    def date(self, y0=2023, y1=2025):
        r = self.r
        y, m, d = r.randint(y0, y1), r.randint(1, 12), r.randint(1, 28)
        return y, m, d

    def date_str(self, y0=2023, y1=2025):
        y, m, d = self.date(y0, y1)
        era = f"令和{y - 2018 if y > 2019 else '元'}年{m}月{d}日" if y >= 2019 else f"平成{y - 1988}年{m}月{d}日"
        return self.r.choice([f"{y}年{m}月{d}日", f"{y}/{m:02d}/{d:02d}", f"{y}-{m:02d}-{d:02d}", era])

    def birth(self):
        y, m, d = self.date(1960, 2002)
        return self.r.choice([f"{y}年{m}月{d}日", f"{y}/{m:02d}/{d:02d}", f"{y}-{m:02d}-{d:02d}"])

    def amount(self):
        v = self.r.randint(1, 999) * self.r.choice([100, 1000, 10000])
        return self.r.choice([f"{v:,}円", f"¥{v:,}", f"￥{v:,}"])

    # planted look-alikes -----------------------------------------------------------------
    def neg_order(self, doc):
        r = self.r
        y, m, d = self.date()
        v = f"{y}{m:02d}{d:02d}" + self.digits(4, "0123456789")
        return doc.negative("order_number_12", v, r.choice([v, f"{v[:8]}-{v[8:]}"]))

    def neg_tracking(self, doc):
        v = self.digits(12, "23456789")
        return doc.negative("tracking_number_12", v, self.grouped(v, (4, 4, 4), p_plain=0.4, p_fw=0.05, allow_space=False))

    def neg_jan(self, doc):
        v = ean_complete(self.r.choice(["4901", "4902", "4903", "4904", "4547", "4549", "4562"]) +
                         self.digits(8, "0123456789"))
        return doc.negative("jan_code", v, v)

    def neg_isbn(self, doc):
        body = "9784" + self.digits(8, "0123456789")
        v = ean_complete(body)
        disp = f"978-4-{v[4:8]}-{v[8:12]}-{v[12]}" if self.r.random() < 0.6 else v
        return doc.negative("isbn", v, disp)

    def neg_timestamp(self, doc):
        y, m, d = self.date()
        hh, mm, ss = self.r.randint(0, 23), self.r.randint(0, 59), self.r.randint(0, 59)
        v = f"{y}{m:02d}{d:02d}{hh:02d}{mm:02d}{ss:02d}"
        disp = self.r.choice([v, f"{y}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}+09:00",
                              f"{y}/{m:02d}/{d:02d} {hh:02d}:{mm:02d}:{ss:02d}"])
        return doc.negative("timestamp", v, disp)

    def neg_card_luhn(self, doc):
        v = self.card_bad()
        assert not luhn_ok(v)
        return doc.negative("card_luhn_fail", v, self.grouped(v, (4, 4, 4, 4), p_plain=0.3, p_fw=0.1))

    def neg_card_masked(self, doc):
        v = self.card()[0]
        disp = self.r.choice(["**** **** **** " + v[-4:], "XXXX-XXXX-XXXX-" + v[-4:], "＊＊＊＊－＊＊＊＊－＊＊＊＊－" + v[-4:].translate(FW)])
        disp = disp if all(self.encodable(c) for c in disp) else "**** **** **** " + v[-4:]
        return doc.negative("card_masked", v[-4:], disp)

    def neg_foreign_phone(self, doc):
        v = self.r.choice(FOREIGN_PHONES)
        return doc.negative("foreign_phone", "".join(c for c in v if c.isdigit()), v)

    def neg_passport_like(self, doc):
        v = self.r.choice(["TK", "MZ", "RE", "TS"]) + self.digits(7, "0123456789")
        return doc.negative("passport_like_code", v, v)

    def neg_reception7(self, doc):
        v = self.digits(7, "0123456789")
        return doc.negative("seven_digit_id", v, v)

    # layout helpers ------------------------------------------------------------------------
    def colon(self, lang="ja"):
        return self.r.choice(["：", ":", "： ", ": "]) if lang == "ja" else self.r.choice([": ", ": "])

    def bracket_label(self, text):
        return self.r.choice([text, f"【{text}】", f"■{text}■", f"［{text}］", f"（{text}）"])


# --------------------------------------------------------------------------------------------
# Entity snippets (each registers its truth)
# --------------------------------------------------------------------------------------------

def mn_disp(g, v):
    return g.grouped(v, (4, 4, 4), p_plain=0.35, p_fw=0.15)


def mn_label(g, doc, v, lang="ja"):
    if lang == "en":
        lab = g.r.choice(["My Number", "My Number (Individual Number)", "Individual Number (My Number)",
                          "My Number:", "Individual Number"])
        return f"{lab.rstrip(':')}: " + doc.ent("my_number", v, mn_disp(g, v), "en_label")
    lab = g.r.choice(["マイナンバー", "個人番号", "個人番号（マイナンバー）", "マイナンバー（個人番号）"])
    return lab + g.colon() + doc.ent("my_number", v, mn_disp(g, v), "ja_label")


def corp_disp(g, v):
    if g.r.random() < 0.25:
        return g.grouped(v, (1, 4, 4, 4), p_plain=0, p_fw=0.1, allow_space=True)
    return g.grouped(v, (13,), p_plain=1, p_fw=0.1)


def tnum(g, doc, v):
    r = g.r
    body = r.choice([v, v, v, f"{v[0]}-{v[1:5]}-{v[5:9]}-{v[9:]}"])
    disp = r.choice(["T", "T", "T", "Ｔ"]) + r.choice(["", "", "-"]) + body
    if "Ｔ" in disp:
        disp = disp.translate(FW)
    return doc.ent("corporate_number", v, disp, "t_number")


def card_disp(g, v):
    return g.grouped(v, g.card_groups(v), p_plain=0.25, p_fw=0.1)


def phone_ent(g, doc, place=None, kind=None, ctx="phone"):
    d, disp = g.phone(place, kind)
    return doc.ent("phone_jp", d, disp, ctx)


def postal_ent(g, doc, pl, mark=True, ctx="postal"):
    v = g.postal(pl)
    if mark:
        disp = g.r.choice(["〒", "〒", "〒 ", "郵便番号 ", "郵便番号："]) + g.grouped(v, (3, 4), p_plain=0.12, p_fw=0.15, allow_space=False)
    else:
        disp = g.grouped(v, (3, 4), p_plain=0.0, p_fw=0.1, allow_space=False)
    return doc.ent("postal_code_jp", v, disp, ctx)


def email_ent(g, doc, sr, gr, domain=None, ctx="email"):
    v, disp = g.email_for(sr, gr, domain) if domain else g.free_email(sr, gr)
    return doc.ent("email", v, disp, ctx)


def label_ent(g, doc, text, decorate=True, ctx="label"):
    disp = g.bracket_label(text) if decorate else text
    inner = doc.ent("label", text, text, ctx)
    return disp.replace(text, inner, 1)


def ja_label_choice(g):
    opts = ["社外秘", "社外秘", "部外秘", "極秘", "取扱注意", "関係者外秘", "秘"]
    if g.encodable("㊙"):
        opts.append("㊙")
    return g.r.choice(opts)


def en_label_choice(g):
    return g.r.choice(["Confidential", "CONFIDENTIAL", "Internal Use Only", "INTERNAL USE ONLY",
                       "Strictly Confidential", "STRICTLY CONFIDENTIAL"])


def place_label(g, doc, text, where=None):
    """Put a confidentiality mark at the top, bottom or in the header/footer."""
    where = where or g.r.choice(["top", "top", "header", "footer", "bottom"])
    if text == "秘":
        # 秘 alone is a mark only when it stands as one: bracketed or alone on its line.
        disp = doc.ent("label", "秘", "秘", "label")
        disp = g.r.choice([f"【{disp}】", f"（{disp}）", disp])
    elif text == "㊙":
        disp = doc.ent("label", "㊙", "㊙", "label")
    else:
        disp = label_ent(g, doc, text)
    if where == "header":
        doc.header = disp if not doc.header else doc.header + "　" + disp
    elif where == "footer":
        doc.footer = disp if not doc.footer else disp + "　" + doc.footer
    elif where == "top":
        doc.blocks.insert(0, ("label", disp))
    else:
        doc.blocks.append(("label", disp))


def bank_block_ja(g, doc, ctx_style=None):
    r = g.r
    bank = r.choice(BANKS)[0]
    br = r.choice(BRANCHES)
    acct = g.bank_account()
    brno = g.digits(3, "0123456789")
    holder = r.choice(["カ）サクラシヨウジ", "ミライデンキ（カ", "ヤマダ　タロウ", "トウワロジスティクス（カ", "ホクトシステム（カ"])
    style = ctx_style or r.choice(["line", "kv", "sentence"])
    if style == "line":
        typ = r.choice(["普通", "普通預金", "当座"])
        lead = r.choice(["口座番号", "口座番号", ""]) if typ == "当座" else r.choice(["", "口座番号"])
        lead = lead or ("口座番号" if typ == "当座" else "")
        s = f"{bank} {br}（店番{brno}）{typ} " + (lead + g.colon() if lead else "") + \
            doc.ent("bank_account", acct, acct, "bank_line") + f" {holder}"
        return [("p", "【お振込先】"), ("p", s)]
    if style == "kv":
        return [("kv", [("金融機関", bank), ("支店名", f"{br}（{brno}）"),
                        ("預金種目", r.choice(["普通", "当座", "普通預金"])),
                        ("口座番号", doc.ent("bank_account", acct, g.grouped(acct, (7,), p_plain=1, p_fw=0.15), "bank_kv")),
                        ("口座名義", holder)])]
    s = (f"代金は{bank}{br}の普通預金口座（口座番号 " + doc.ent("bank_account", acct, acct, "bank_sentence") +
         f"、名義 {holder}）へお振り込みください。")
    return [("p", s)]


# --------------------------------------------------------------------------------------------
# Document kinds
# --------------------------------------------------------------------------------------------

def company(g):
    return g.r.choice(COMPANIES)


def co_contact_lines(g, doc, co, lang="ja"):
    """A company's letterhead: address, phone, fax, mail, sometimes the 法人番号."""
    r = g.r
    pl = g.place()
    lines = []
    addr = postal_ent(g, doc, pl) + " " + g.address(pl) + g.building()
    lines.append(co[0] if lang == "ja" else co[1])
    lines.append(addr)
    tel = phone_ent(g, doc, pl, "fixed")
    fax = phone_ent(g, doc, pl, "fixed")
    lines.append(f"TEL {tel}　FAX {fax}" if r.random() < 0.5 else f"電話：{tel} / FAX：{fax}")
    return lines, pl


def doc_roster(g, lang="ja", n=None, bad_rate=0.25, with_mn=True):
    """社員名簿 / personnel roster."""
    r = g.r
    co = company(g)
    doc = Doc(g, "roster", lang, r.choice(["社員名簿", "従業員名簿", "社員台帳", "人事台帳"]) if lang == "ja" else "Employee Roster")
    n = n or r.randint(8, 30)
    if lang == "ja":
        mn_head = r.choice(["個人番号", "マイナンバー", "個人番号（マイナンバー）"])
        header = ["社員番号", "氏名", "所属", "入社日", mn_head, "携帯電話", "メールアドレス"] if with_mn else \
            ["社員番号", "氏名", "所属", "入社日", "内線", "携帯電話", "メールアドレス"]
    else:
        header = ["Employee ID", "Name", "Department", "Hire date", r.choice(["My Number", "Individual Number (My Number)"]),
                  "Mobile", "E-mail"]
    rows = []
    for i in range(n):
        s, gv, sr, gr = g.person()
        dept = r.choice(DEPTS)
        eid = f"{r.choice(['E', 'S', ''])}{r.randint(10000, 99999)}"
        cells = [Cell(eid), Cell(f"{s} {gv}" if lang == "ja" else f"{gr} {sr}"),
                 Cell(dept[0] if lang == "ja" else dept[1]), Cell(g.date_str(1995, 2024))]
        if with_mn:
            if r.random() < bad_rate:
                v = g.my_number_bad()
                cells.append(Cell(doc.negative("my_number_bad_check", v, mn_disp(g, v)), None))
            else:
                v = g.my_number()
                disp = mn_disp(g, v)
                cells.append(Cell(doc.ent("my_number", v, disp, "column"), int(v) if disp == v else None))
        else:
            cells.append(Cell(str(r.randint(2000, 4999))))
        cells.append(Cell(phone_ent(g, doc, kind="mobile", ctx="column")))
        cells.append(Cell(email_ent(g, doc, sr, gr, co[2], ctx="column")))
        rows.append(cells)
    if lang == "ja":
        doc.p(f"{co[0]}　{doc.title}（{g.date_str(2024, 2025)}現在）")
    else:
        doc.p(f"{co[1]} — {doc.title} as of {g.date_str(2024, 2025)}")
    doc.table(header, rows)
    if lang == "ja":
        doc.p("※本名簿の個人番号は年末調整・法定調書作成の目的に限り利用すること。")
    if r.random() < 0.8:
        place_label(g, doc, ja_label_choice(g) if lang == "ja" else en_label_choice(g))
    return doc


def doc_fuyou(g):
    """扶養控除等（異動）申告書 -like form."""
    r = g.r
    doc = Doc(g, "fuyou", "ja", f"令和{r.randint(5, 7)}年分 給与所得者の扶養控除等（異動）申告書")
    co = company(g)
    s, gv, sr, gr = g.person()
    pl = g.place()
    doc.h(doc.title)
    pairs = [("所轄税務署長", r.choice(["麹町", "芝", "新宿", "北", "中村", "博多"]) + "税務署長"),
             ("給与の支払者の名称", co[0]),
             ("給与の支払者の法人番号", doc.ent("corporate_number", (cv := g.corporate()), corp_disp(g, cv), "kv_label")),
             ("あなたの氏名", f"{s} {gv}"),
             ("生年月日", g.birth())]
    if r.random() < 0.2:
        bad = g.my_number_bad()
        pairs.append(("あなたの個人番号", doc.negative("my_number_bad_check", bad, mn_disp(g, bad))))
    else:
        v = g.my_number()
        pairs.append(("あなたの個人番号", doc.ent("my_number", v, mn_disp(g, v), "kv_label")))
    pairs.append(("あなたの住所", postal_ent(g, doc, pl) + " " + g.address(pl)))
    pairs.append(("電話番号", phone_ent(g, doc, kind=r.choice(["mobile", "fixed"]), ctx="kv_label")))
    doc.kv(pairs)
    doc.p("控除対象配偶者・扶養親族")
    rows = []
    for _ in range(r.randint(1, 4)):
        rel = r.choice(KANA_RELATION)
        g2 = r.choice(GIVEN)[0]
        if r.random() < 0.25:
            bad = g.my_number_bad()
            mn = Cell(doc.negative("my_number_bad_check", bad, mn_disp(g, bad)))
        else:
            v = g.my_number()
            mn = Cell(doc.ent("my_number", v, mn_disp(g, v), "column"))
        rows.append([Cell(f"{s} {g2}"), Cell(rel), mn, Cell(g.birth()), Cell(r.choice(["同居", "同居", "別居"]))])
    doc.table(["氏名", "続柄", "個人番号", "生年月日", "同居・別居"], rows)
    doc.p(f"提出日　{g.date_str(2024, 2025)}")
    if r.random() < 0.5:
        place_label(g, doc, r.choice(["取扱注意", "部外秘", "社外秘"]))
    return doc


def doc_gensen(g, bad_rate=0.3):
    """源泉徴収 list with a マイナンバー column."""
    r = g.r
    y = r.randint(2023, 2025)
    doc = Doc(g, "gensen", "ja", r.choice([f"{y}年分 源泉徴収簿一覧", f"{y}年 給与所得の源泉徴収票 作成用データ",
                                           f"報酬・料金等の支払調書 {y}"]))
    co = company(g)
    doc.p(f"{doc.title}　支払者：{co[0]}")
    if r.random() < 0.6:
        cv = g.corporate()
        doc.p("支払者の法人番号" + g.colon() + doc.ent("corporate_number", cv, corp_disp(g, cv), "label"))
    head = r.choice(["マイナンバー", "個人番号", "個人番号/法人番号"])
    rows = []
    for i in range(r.randint(10, 40)):
        s, gv, sr, gr = g.person()
        if r.random() < bad_rate:
            v = g.my_number_bad()
            disp = mn_disp(g, v)
            mn = Cell(doc.negative("my_number_bad_check", v, disp), int(v) if disp == v else None)
        else:
            v = g.my_number()
            disp = mn_disp(g, v)
            mn = Cell(doc.ent("my_number", v, disp, "column"), int(v) if disp == v else None)
        pay = r.randint(180, 1200) * 10000
        tax = pay // r.randint(15, 40)
        rows.append([Cell(str(i + 1), i + 1), Cell(f"{s} {gv}"), mn, Cell(f"{pay:,}", pay), Cell(f"{tax:,}", tax)])
    doc.table(["No.", "氏名", head, "支払金額", "源泉徴収税額"], rows)
    doc.p(f"作成日 {g.date_str()}　作成者 経理部")
    place_label(g, doc, r.choice(["社外秘", "極秘", "取扱注意", "部外秘"]))
    return doc


def doc_invoice(g, lang="ja"):
    """請求書 with 法人番号 / 適格請求書発行事業者登録番号 and 振込先."""
    r = g.r
    seller, buyer = r.sample(COMPANIES, 2)
    doc = Doc(g, "invoice", lang, "請求書" if lang == "ja" else "INVOICE")
    doc.h(doc.title if lang == "ja" else "INVOICE / 請求書")
    y, m, d = g.date()
    inv_no = f"INV-{y}{m:02d}-{r.randint(1, 9999):04d}"
    doc.p(f"{buyer[0]}　御中" if lang == "ja" else f"To: {buyer[1]}")
    letterhead, pl = co_contact_lines(g, doc, seller, lang)
    for ln in letterhead:
        doc.p(ln)
    cv = g.corporate()
    if r.random() < 0.75:
        doc.p(r.choice(["登録番号", "適格請求書発行事業者登録番号", "インボイス登録番号", "Registration No."]) + g.colon() + tnum(g, doc, cv))
    else:
        doc.p(r.choice(["法人番号", "Corporate Number"]) + g.colon() + doc.ent("corporate_number", cv, corp_disp(g, cv), "label"))
    pairs = [("請求番号" if lang == "ja" else "Invoice No.", inv_no),
             ("請求日" if lang == "ja" else "Date", g.date_str()),
             ("お支払期限" if lang == "ja" else "Due", g.date_str())]
    if r.random() < 0.5:
        pairs.append(("ご注文番号", g.neg_order(doc)))
    doc.kv(pairs)
    rows = []
    total = 0
    for _ in range(r.randint(2, 7)):
        name, price = r.choice(PRODUCTS)
        q = r.randint(1, 12)
        total += price * q
        code = r.choice([lambda: f"PRD-{r.randint(1000, 9999)}", lambda: g.neg_jan(doc), lambda: f"SKU{r.randint(100000, 999999)}"])()
        rows.append([Cell(code), Cell(name), Cell(str(q), q), Cell(f"{price:,}", price), Cell(f"{price * q:,}", price * q)])
    doc.table(["品番", "品名", "数量", "単価", "金額"] if lang == "ja" else ["Code", "Item", "Qty", "Unit price", "Amount"], rows)
    tax = total // 10
    doc.p(f"小計 {total:,}円　消費税（10%） {tax:,}円　合計 {total + tax:,}円")
    for b in bank_block_ja(g, doc):
        doc.blocks.append(b)
    doc.p("振込手数料は貴社にてご負担願います。")
    if r.random() < 0.25:
        place_label(g, doc, ja_label_choice(g))
    return doc


def doc_card_form(g, lang="ja"):
    """Card payment / 法人カード 申込書."""
    r = g.r
    doc = Doc(g, "card", lang, r.choice(["クレジットカード決済申込書", "法人カード利用申請書", "カード払い依頼書"]) if lang == "ja" else "Credit Card Authorization Form")
    doc.h(doc.title)
    s, gv, sr, gr = g.person()
    pl = g.place()
    v, iss = g.card()
    brand = {"visa": "VISA", "master": "Mastercard", "master2": "Mastercard", "jcb": "JCB", "amex": "American Express", "diners": "Diners Club"}[iss]
    if lang == "ja":
        pairs = [("お名前", f"{s} {gv}"), ("カード名義（ローマ字）", f"{gr.upper()} {sr.upper()}"),
                 ("カード会社", brand),
                 (r.choice(["カード番号", "クレジットカード番号", "カード No."]), doc.ent("credit_card", v, card_disp(g, v), "kv_label")),
                 ("有効期限", f"{r.randint(1, 12):02d}/{r.randint(26, 31)}"),
                 ("ご住所", postal_ent(g, doc, pl) + " " + g.address(pl)),
                 ("ご連絡先電話番号", phone_ent(g, doc, kind=r.choice(["mobile", "fixed"]), ctx="kv_label")),
                 ("メールアドレス", email_ent(g, doc, sr, gr, ctx="kv_label"))]
    else:
        pairs = [("Cardholder name", f"{gr} {sr}"), ("Card type", brand),
                 (r.choice(["Card number", "Card No.", "Credit card number"]), doc.ent("credit_card", v, card_disp(g, v), "kv_label_en")),
                 ("Expiry", f"{r.randint(1, 12):02d}/{r.randint(26, 31)}"),
                 ("Phone", phone_ent(g, doc, kind="mobile", ctx="kv_label_en")),
                 ("E-mail", email_ent(g, doc, sr, gr, ctx="kv_label_en"))]
    doc.kv(pairs)
    amt = g.amount()
    if lang == "ja":
        doc.p(f"ご利用金額 {amt}（注文番号 {g.neg_order(doc)}）を上記カードにて決済いたします。")
        if r.random() < 0.5:
            doc.p("前回ご登録のカード（" + g.neg_card_masked(doc) + "）は有効期限切れのため削除しました。")
        if r.random() < 0.5:
            doc.p("※先日ご記入いただいた番号 " + g.neg_card_luhn(doc) + " は桁誤りのため無効となりました。再度ご確認ください。")
    else:
        doc.p(f"I authorize charges of {amt} to the card above (order {g.neg_order(doc)}).")
        if r.random() < 0.5:
            doc.p("Previous card on file: " + g.neg_card_masked(doc))
    if r.random() < 0.5:
        place_label(g, doc, "取扱注意" if lang == "ja" else en_label_choice(g))
    return doc


def doc_card_list(g):
    """A list of corporate cards / card payments (table)."""
    r = g.r
    doc = Doc(g, "cardlist", "ja", r.choice(["法人カード管理台帳", "カード決済エラー一覧", "会費カード払い登録者一覧"]))
    doc.p(f"{doc.title}（{g.date_str()}時点）")
    rows = []
    for _ in range(r.randint(6, 25)):
        s, gv, sr, gr = g.person()
        if r.random() < 0.2:
            bad = g.card_bad()
            c = Cell(doc.negative("card_luhn_fail", bad, g.grouped(bad, (4, 4, 4, 4), p_plain=0.3, p_fw=0.1)))
            note = "番号エラー"
        else:
            v, iss = g.card()
            c = Cell(doc.ent("credit_card", v, card_disp(g, v), "column"))
            note = r.choice(["", "", "更新済", "限度額変更"])
        rows.append([Cell(f"{s} {gv}"), Cell(r.choice(DEPTS)[0]), c, Cell(f"{r.randint(1, 12):02d}/{r.randint(26, 30)}"), Cell(note)])
    doc.table(["利用者", "部署", r.choice(["カード番号", "クレジットカード番号", "Card No."]), "有効期限", "備考"], rows)
    place_label(g, doc, r.choice(["社外秘", "極秘", "取扱注意"]))
    return doc


def doc_contacts(g, lang="ja"):
    """顧客連絡先 / customer contact list."""
    r = g.r
    doc = Doc(g, "contacts", lang, r.choice(["顧客連絡先一覧", "取引先担当者リスト", "展示会 名刺交換リスト"]) if lang == "ja" else "Customer Contact List")
    rows = []
    for _ in range(r.randint(8, 30)):
        s, gv, sr, gr = g.person()
        co = company(g)
        pl = g.place()
        if lang == "ja":
            post = postal_ent(g, doc, pl, mark=r.random() < 0.3, ctx="column")
            rows.append([Cell(co[0]), Cell(f"{s} {gv}"), Cell(phone_ent(g, doc, pl, "fixed", ctx="column")),
                         Cell(phone_ent(g, doc, kind=r.choice(["mobile", "mobile", "ip"]), ctx="column")),
                         Cell(email_ent(g, doc, sr, gr, co[2], ctx="column")), Cell(post), Cell(g.address(pl))])
        else:
            rows.append([Cell(co[1]), Cell(f"{gr} {sr}"), Cell(phone_ent(g, doc, pl, "fixed", ctx="column")),
                         Cell(email_ent(g, doc, sr, gr, co[2], ctx="column")),
                         Cell(f"{r.randint(1, 5)}-{r.randint(1, 20)}-{r.randint(1, 30)} {pl[6]}, {pl[7]}")])
    if lang == "ja":
        doc.table(["会社名", "担当者", "電話番号", "携帯", "メール", "郵便番号", "住所"], rows)
        if r.random() < 0.5:
            doc.p("海外拠点：" + g.neg_foreign_phone(doc) + "（" + r.choice(COUNTRIES)[0] + "）")
    else:
        doc.table(["Company", "Contact", "Phone", "E-mail", "Address"], rows)
        doc.p("Overseas office: " + g.neg_foreign_phone(doc))
    if r.random() < 0.5:
        place_label(g, doc, ja_label_choice(g) if lang == "ja" else en_label_choice(g))
    return doc


def doc_bank_list(g):
    """振込先 一覧 (payees / salary accounts)."""
    r = g.r
    doc = Doc(g, "banklist", "ja", r.choice(["給与振込口座一覧", "振込先口座登録一覧", "経費精算 振込先マスタ"]))
    doc.p(doc.title)
    rows = []
    for _ in range(r.randint(8, 25)):
        s, gv, sr, gr = g.person()
        acct = g.bank_account()
        disp = g.grouped(acct, (7,), p_plain=1, p_fw=0.1)
        rows.append([Cell(f"{r.randint(10000, 99999)}"), Cell(f"{s} {gv}"), Cell(r.choice(BANKS)[0]),
                     Cell(r.choice(BRANCHES)), Cell(r.choice(["普通", "普通", "当座"])),
                     Cell(doc.ent("bank_account", acct, disp, "column"), int(acct) if acct[0] != "0" and disp == acct else None)])
    doc.table(["社員番号", "氏名", "銀行名", "支店名", "種別", "口座番号"], rows)
    doc.p("受付番号 " + g.neg_reception7(doc) + "　変更届は総務部まで。")
    place_label(g, doc, r.choice(["社外秘", "部外秘", "取扱注意", "極秘"]))
    return doc


def doc_travel(g, lang="ja"):
    """出張 / travel list with passports."""
    r = g.r
    dest = r.choice(COUNTRIES)
    doc = Doc(g, "travel", lang, f"海外出張者名簿（{dest[0]}）" if lang == "ja" else f"Business Trip Traveller List ({dest[1]})")
    doc.p(doc.title + "　" + g.date_str(2024, 2025) + ("〜" if lang == "ja" else " - ") + g.date_str(2024, 2025))
    rows = []
    for _ in range(r.randint(3, 12)):
        s, gv, sr, gr = g.person()
        pp = g.passport()
        disp = pp.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ０１２３４５６７８９")) if r.random() < 0.1 else pp
        rows.append([Cell(f"{s} {gv}" if lang == "ja" else f"{gr} {sr}"), Cell(f"{sr.upper()} {gr.upper()}"),
                     Cell(doc.ent("passport", pp, disp, "column")), Cell(g.date_str(2028, 2034)), Cell(g.birth()),
                     Cell(phone_ent(g, doc, kind="mobile", ctx="column"))])
    head_pp = r.choice(["旅券番号", "パスポート番号", "旅券番号（パスポート）"]) if lang == "ja" else r.choice(["Passport No.", "Passport number"])
    if lang == "ja":
        doc.table(["氏名", "ローマ字", head_pp, "有効期限", "生年月日", "携帯電話"], rows)
        doc.p(f"航空券予約番号 {r.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{r.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{r.randint(1000, 9999)}、ホテル確認番号 " + g.neg_reception7(doc))
        doc.p("現地連絡先：" + g.neg_foreign_phone(doc))
    else:
        doc.table(["Name", "Name (passport)", head_pp, "Expiry", "Date of birth", "Mobile"], rows)
        doc.p("Local contact: " + g.neg_foreign_phone(doc))
    if r.random() < 0.7:
        place_label(g, doc, r.choice(["取扱注意", "社外秘"]) if lang == "ja" else en_label_choice(g))
    return doc


def doc_minutes(g):
    """会議議事録 marked 社外秘."""
    r = g.r
    co = company(g)
    doc = Doc(g, "minutes", "ja", r.choice(["経営会議 議事録", "定例営業会議 議事録", "プロジェクト進捗会議 議事録", "情報セキュリティ委員会 議事録"]))
    doc.h(doc.title)
    people = [g.person() for _ in range(r.randint(3, 6))]
    doc.kv([("日時", g.date_str() + f" {r.randint(9, 17)}:00〜{r.randint(9, 17)}:30"),
            ("場所", r.choice(["本社 第3会議室", "オンライン（Teams）", "大阪支社 会議室A"])),
            ("出席者", "、".join(f"{p[0]}" for p in people)),
            ("記録", people[0][0])])
    sents = [
        lambda: "前回議事録の確認を行い、承認された。",
        lambda: f"第2四半期の売上は前年同期比{r.randint(90, 130)}%で着地見込み。",
        lambda: f"新規取引先{company(g)[0]}との契約について、法務部でレビュー中（{doc.negative('label_lookalike', '秘密', '秘密')}保持契約は締結済み）。",
        lambda: f"社長{doc.negative('label_lookalike', '秘書', '秘書')}の{people[1][0]}さんより、来月の役員日程について連絡があった。",
        lambda: f"問い合わせ窓口を {phone_ent(g, doc, kind=r.choice(['free', 'navi', 'free0800']), ctx='prose')} に一本化する。",
        lambda: f"次回は{g.date_str(2025, 2025)}開催予定。",
        lambda: f"見積書の有効期限は発行日から{r.randint(1, 3)}か月とする。",
        lambda: f"顧客からのクレーム件数は{r.randint(3, 40)}件、うち重大案件は{r.randint(0, 3)}件。",
    ]
    r.shuffle(sents)
    for f in sents[: r.randint(4, 8)]:
        doc.p("・" + f())
    if r.random() < 0.5:
        s, gv, sr, gr = people[-1]
        doc.p(f"担当：{s}（内線{r.randint(2000, 4999)}、{email_ent(g, doc, sr, gr, co[2], ctx='prose')}）")
    place_label(g, doc, r.choice(["社外秘", "社外秘", "部外秘", "極秘", "関係者外秘"] + (["㊙"] if g.encodable("㊙") else [])), r.choice(["top", "header", "top"]))
    return doc


def doc_hr_letter(g):
    """English HR letter."""
    r = g.r
    co = company(g)
    s, gv, sr, gr = g.person()
    pl = g.place()
    doc = Doc(g, "hrletter", "en", r.choice(["Year-end Tax Adjustment", "Offer of Employment", "Change of Personal Details", "Payroll Confirmation"]))
    doc.p(co[1])
    doc.p(g.date_str())
    doc.p(f"Dear {r.choice(['Mr.', 'Ms.'])} {sr},")
    if doc.title == "Year-end Tax Adjustment":
        doc.p("Thank you for submitting your year-end adjustment documents.")
        if r.random() < 0.25:
            bad = g.my_number_bad()
            doc.p("The My Number you entered, " + doc.negative("my_number_bad_check", bad, mn_disp(g, bad)) +
                  ", does not appear to be valid. Please check the number on your card and resubmit.")
        else:
            doc.p("We have recorded the following " + mn_label(g, doc, g.my_number(), "en") + ".")
        doc.p("For your dependents we hold: " + mn_label(g, doc, g.my_number(), "en") + ".")
    elif doc.title == "Offer of Employment":
        doc.p(f"We are pleased to offer you the position of {r.choice(['Software Engineer', 'Account Manager', 'Analyst'])} starting {g.date_str(2025, 2025)}.")
        doc.p(f"Your annual base salary will be JPY {r.randint(5, 12) * 1000000:,}.")
    elif doc.title == "Change of Personal Details":
        doc.p("We have updated your records as follows.")
        doc.p("New address: " + postal_ent(g, doc, pl) + " " + g.address(pl))
        doc.p("New mobile number: " + phone_ent(g, doc, kind="mobile", ctx="prose_en"))
    else:
        acct = g.bank_account()
        bank = r.choice(BANKS)
        doc.p(f"Your salary will be paid into your account at {bank[1]}, {r.choice(BRANCHES)} (普通預金), account number " +
              doc.ent("bank_account", acct, acct, "bank_en") + ".")
    doc.p("If you have any questions please contact HR at " + email_ent(g, doc, "hr", "jinji", co[2], ctx="prose_en") +
          " or call " + phone_ent(g, doc, kind="fixed", ctx="prose_en") + ".")
    doc.p("Sincerely,")
    doc.p(f"{r.choice(SURNAMES)[1]}, Human Resources")
    place_label(g, doc, en_label_choice(g), r.choice(["top", "header", "footer"]))
    return doc


def doc_prose(g):
    """Mixed free prose: an e-mail or a memo mentioning numbers in sentences."""
    r = g.r
    co = company(g)
    s, gv, sr, gr = g.person()
    s2 = g.person()
    pl = g.place()
    doc = Doc(g, "prose", "ja", r.choice(["Re: 書類提出のお願い", "手続きのご案内", "申請内容の確認", "FW: 住所変更について"]))
    doc.p(f"件名：{doc.title}")
    doc.p(f"{s2[0]}さん")
    doc.p(f"お疲れさまです。{s}です。")
    pool = []
    pool.append(lambda: f"{s}さんのマイナンバーは{doc.ent('my_number', (v := g.my_number()), mn_disp(g, v), 'prose')}で登録しました。")
    pool.append(lambda: "扶養家族の個人番号 " + doc.ent("my_number", (v := g.my_number()), mn_disp(g, v), "prose") + " も併せて提出済みです。")
    pool.append(lambda: "申告書に記載された個人番号 " + doc.negative("my_number_bad_check", (b := g.my_number_bad()), mn_disp(g, b)) + " は検査用数字が一致しないため、再確認をお願いします。")
    pool.append(lambda: "マイナンバー欄の " + doc.negative("my_number_bad_check", (b := g.my_number_bad()), mn_disp(g, b)) + " は誤記のようです。")
    pool.append(lambda: f"新住所は{postal_ent(g, doc, pl, ctx='prose')} {g.address(pl)}{g.building()}です。")
    pool.append(lambda: f"日中の連絡先は{phone_ent(g, doc, kind='mobile', ctx='prose')}、自宅は{phone_ent(g, doc, pl, 'fixed', ctx='prose')}です。")
    pool.append(lambda: f"返信は{email_ent(g, doc, sr, gr, ctx='prose')}までお願いします。")
    pool.append(lambda: f"荷物の問い合わせ伝票番号は{g.neg_tracking(doc)}です（{g.date_str()}発送）。")
    pool.append(lambda: f"ご注文番号 {g.neg_order(doc)} の件、{g.amount()}で承りました。")
    pool.append(lambda: f"振込先は{r.choice(BANKS)[0]}{r.choice(BRANCHES)} 普通 {doc.ent('bank_account', (a := g.bank_account()), a, 'prose')} です。")
    pool.append(lambda: f"更新後の口座番号は{doc.ent('bank_account', (a := g.bank_account()), a, 'prose')}（{r.choice(BANKS)[0]}）です。")
    pool.append(lambda: f"パスポート番号は{doc.ent('passport', (p := g.passport()), p, 'prose')}、有効期限は{g.date_str(2028, 2033)}です。")
    pool.append(lambda: f"法人カードのカード番号 {doc.ent('credit_card', (c := g.card()[0]), card_disp(g, c), 'prose')} は{g.date_str(2025, 2026)}で更新になります。")
    pool.append(lambda: f"先方の法人番号は{doc.ent('corporate_number', (cv := g.corporate()), corp_disp(g, cv), 'prose')}です。")
    pool.append(lambda: f"打刻ログ {g.neg_timestamp(doc)} の修正をお願いします。")
    pool.append(lambda: f"参考書籍（ISBN {g.neg_isbn(doc)}）を購入しました。")
    pool.append(lambda: f"米国本社の担当は {g.neg_foreign_phone(doc)} です。")
    pool.append(lambda: f"{doc.negative('label_lookalike', '秘書', '秘書')}課の{s2[0]}さんにも共有済みです。")
    r.shuffle(pool)
    for f in pool[: r.randint(4, 8)]:
        doc.p(f())
    doc.p("よろしくお願いいたします。")
    doc.p(f"{co[0]} {r.choice(DEPTS)[0]} {s} {gv}")
    doc.p("TEL " + phone_ent(g, doc, kind="fixed", ctx="signature") + " / " + email_ent(g, doc, sr, gr, co[2], ctx="signature"))
    if r.random() < 0.4:
        place_label(g, doc, ja_label_choice(g), "top")
    return doc


def doc_prose_en(g):
    r = g.r
    co = company(g)
    s, gv, sr, gr = g.person()
    doc = Doc(g, "prose_en", "en", r.choice(["Re: onboarding paperwork", "Vendor registration", "Travel booking"]))
    doc.p(f"Subject: {doc.title}")
    doc.p(f"Hi {r.choice(SURNAMES)[1]}-san,")
    pool = [
        lambda: f"The vendor's corporate number (法人番号) is {doc.ent('corporate_number', (cv := g.corporate()), corp_disp(g, cv), 'prose_en')}.",
        lambda: f"Their invoice registration number is {tnum(g, doc, g.corporate())}.",
        lambda: f"Please charge the deposit to card number {doc.ent('credit_card', (c := g.card()[0]), card_disp(g, c), 'prose_en')}.",
        lambda: f"You can reach me on {phone_ent(g, doc, kind='mobile', ctx='prose_en')} or at {email_ent(g, doc, sr, gr, co[2], ctx='prose_en')}.",
        lambda: f"My passport number is {doc.ent('passport', (p := g.passport()), p, 'prose_en')} (expires {g.date_str(2029, 2033)}).",
        lambda: f"The tracking number is {g.neg_tracking(doc)}.",
        lambda: f"Our US office is {g.neg_foreign_phone(doc)}.",
        lambda: f"PO {g.neg_order(doc)} was approved for {g.amount()}.",
        lambda: f"Ship to {postal_ent(g, doc, (pl := g.place()), ctx='prose_en')} {g.address(pl)}.",
    ]
    r.shuffle(pool)
    for f in pool[: r.randint(3, 7)]:
        doc.p(f())
    doc.p("Best regards,")
    doc.p(f"{gr} {sr} | {co[1]} | " + phone_ent(g, doc, kind="fixed", ctx="signature"))
    if r.random() < 0.5:
        place_label(g, doc, en_label_choice(g), r.choice(["top", "bottom", "footer"]))
    return doc


def doc_vendor_master(g):
    """取引先マスタ with 法人番号 (as numbers in xlsx) and JAN look-alikes."""
    r = g.r
    doc = Doc(g, "vendors", "ja", r.choice(["取引先マスタ", "仕入先一覧", "インボイス登録番号 確認リスト"]))
    rows = []
    use_t = "インボイス" in doc.title
    for _ in range(r.randint(8, 25)):
        co = company(g)
        pl = g.place()
        if r.random() < 0.15:
            bad = g.corporate_bad()
            c = Cell(doc.negative("corporate_bad_check", bad, ("T" + bad) if use_t else bad), None if use_t else int(bad))
            note = "番号不一致"
        else:
            cv = g.corporate()
            c = Cell(tnum(g, doc, cv)) if use_t else Cell(doc.ent("corporate_number", cv, corp_disp(g, cv), "column"), int(cv))
            if not use_t and c.text != M_OPEN + cv + M_CLOSE:
                c.num = None
            note = r.choice(["", "", "登録済", "要確認"])
        rows.append([Cell(f"V{r.randint(1000, 9999)}"), Cell(co[0]), c, Cell(phone_ent(g, doc, pl, "fixed", ctx="column")),
                     Cell(g.address(pl)), Cell(note)])
    doc.table(["取引先コード", "取引先名", "登録番号" if use_t else "法人番号", "電話番号", "所在地", "備考"], rows)
    prod = []
    for _ in range(r.randint(2, 5)):
        n, p = r.choice(PRODUCTS)
        prod.append([Cell(g.neg_jan(doc)), Cell(n), Cell(f"{p:,}", p)])
    doc.table(["JANコード", "商品名", "標準単価"], prod)
    if r.random() < 0.5:
        place_label(g, doc, r.choice(["社外秘", "部外秘"]))
    return doc


def doc_shipping(g):
    """出荷一覧: tracking numbers, order numbers, amounts — look-alikes mostly; postal codes with 〒."""
    r = g.r
    doc = Doc(g, "shipping", "ja", r.choice(["出荷実績一覧", "発送伝票 控え", "配送状況レポート"]))
    rows = []
    for _ in range(r.randint(8, 25)):
        pl = g.place()
        s, gv, sr, gr = g.person()
        rows.append([Cell(g.neg_order(doc)), Cell(g.neg_tracking(doc)), Cell(f"{s} {gv} 様"),
                     Cell(postal_ent(g, doc, pl, mark=True, ctx="column") + " " + g.address(pl)),
                     Cell(g.amount()), Cell(g.neg_timestamp(doc))])
    doc.table(["注文番号", "伝票番号", "お届け先", "住所", "代金", "出荷日時"], rows)
    doc.p(f"集計期間 {g.date_str()}〜{g.date_str()}　件数 {len(rows)}件")
    doc.p("商品コード例：" + g.neg_passport_like(doc) + "、" + g.neg_jan(doc))
    return doc


def doc_slides(g):
    """A short deck (for pptx/pdf): security briefing or HR procedure."""
    r = g.r
    doc = Doc(g, "slides", "ja", r.choice(["個人情報の取扱いについて", "年末調整 手続き説明会", "新システム移行計画"]))
    doc.h(doc.title)
    doc.p("・マイナンバーは利用目的を限定して取り扱う")
    doc.p("・記載例：個人番号 " + doc.ent("my_number", (v := g.my_number()), mn_disp(g, v), "prose"))
    doc.p("・誤記例（検査用数字の不一致）：" + doc.negative("my_number_bad_check", (b := g.my_number_bad()), mn_disp(g, b)))
    doc.p("・問い合わせ：" + phone_ent(g, doc, kind="free", ctx="prose") + "（平日9時〜17時）")
    s, gv, sr, gr = g.person()
    doc.p("・担当：" + f"{s}（" + email_ent(g, doc, sr, gr, company(g)[2], ctx="prose") + "）")
    rows = []
    for _ in range(r.randint(3, 6)):
        s, gv, sr, gr = g.person()
        v = g.my_number()
        rows.append([Cell(f"{s} {gv}"), Cell(doc.ent("my_number", v, mn_disp(g, v), "column")), Cell(r.choice(["提出済", "未提出", "確認中"]))])
    doc.table(["氏名", "個人番号", "状況"], rows)
    place_label(g, doc, r.choice(["社外秘", "部外秘", "取扱注意", "Internal Use Only", "Confidential"]), r.choice(["top", "footer"]))
    return doc


KINDS = {
    "roster": lambda g: doc_roster(g, "ja"),
    "roster_en": lambda g: doc_roster(g, "en"),
    "roster_nomn": lambda g: doc_roster(g, "ja", with_mn=False),
    "fuyou": doc_fuyou,
    "gensen": doc_gensen,
    "invoice": lambda g: doc_invoice(g, "ja"),
    "card": lambda g: doc_card_form(g, "ja"),
    "card_en": lambda g: doc_card_form(g, "en"),
    "cardlist": doc_card_list,
    "contacts": lambda g: doc_contacts(g, "ja"),
    "contacts_en": lambda g: doc_contacts(g, "en"),
    "banklist": doc_bank_list,
    "travel": lambda g: doc_travel(g, "ja"),
    "travel_en": lambda g: doc_travel(g, "en"),
    "minutes": doc_minutes,
    "hrletter": doc_hr_letter,
    "prose": doc_prose,
    "prose_en": doc_prose_en,
    "vendors": doc_vendor_master,
    "shipping": doc_shipping,
    "slides": doc_slides,
}
TABLE_KINDS = ["roster", "roster_en", "roster_nomn", "gensen", "cardlist", "contacts", "contacts_en", "banklist",
               "travel", "travel_en", "vendors", "shipping"]
FORM_KINDS = ["fuyou", "invoice", "card", "card_en", "minutes", "hrletter", "prose", "prose_en"]
DIRS = {"roster": "人事", "roster_en": "HR", "roster_nomn": "人事", "fuyou": "人事/年末調整", "gensen": "経理/源泉",
        "invoice": "経理/請求書", "card": "経理/カード", "card_en": "finance", "cardlist": "経理/カード",
        "contacts": "営業/顧客", "contacts_en": "sales", "banklist": "経理/振込", "travel": "総務/出張",
        "travel_en": "admin/travel", "minutes": "会議", "hrletter": "HR/letters", "prose": "メール",
        "prose_en": "mail", "vendors": "購買", "shipping": "物流", "slides": "研修"}
FILE_NAMES = {"roster": "社員名簿", "roster_en": "employee_roster", "roster_nomn": "内線表", "fuyou": "扶養控除申告書",
              "gensen": "源泉徴収一覧", "invoice": "請求書", "card": "カード決済申込書", "card_en": "card_authorization",
              "cardlist": "法人カード台帳", "contacts": "顧客連絡先", "contacts_en": "contacts", "banklist": "振込先一覧",
              "travel": "出張者名簿", "travel_en": "travellers", "minutes": "議事録", "hrletter": "hr_letter",
              "prose": "メール本文", "prose_en": "email", "vendors": "取引先マスタ", "shipping": "出荷一覧", "slides": "説明資料"}

# --------------------------------------------------------------------------------------------
# Renderers
# --------------------------------------------------------------------------------------------


def kv_sep(g):
    return g.r.choice(["：", ": ", "\t", "　"])


def render_text(doc, g, table_style=None):
    lines = []
    if doc.header:
        lines.append(doc.header)
        lines.append("")
    sep = table_style or g.r.choice(["\t", "\t", " | ", "  "])
    for b in doc.blocks:
        if b[0] in ("h", "p", "label"):
            lines.append(b[1])
        elif b[0] == "kv":
            for k, v in b[1]:
                lines.append(f"{k}{kv_sep(g)}{v}")
        elif b[0] == "table":
            rows = [list(b[1])] + [[clean(c.text) for c in row] for row in b[2]]
            if sep == "  ":
                # a fixed-width report: columns padded to the widest cell (East Asian width)
                def width(t):
                    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in t)
                ws = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
                for r in rows:
                    lines.append("  ".join(c + " " * (ws[i] - width(c)) for i, c in enumerate(r)).rstrip())
            else:
                for r in rows:
                    lines.append(sep.join(r))
        lines.append("") if b[0] in ("h", "table") else None
    if doc.footer:
        lines.append("")
        lines.append(doc.footer)
    return clean("\n".join(lines)) + "\n"


def render_csv(doc, g):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if g.r.random() < 0.6 else "\n")
    if doc.header:
        w.writerow([clean(doc.header)])
    for b in doc.blocks:
        if b[0] in ("h", "p", "label"):
            w.writerow([clean(b[1])])
        elif b[0] == "kv":
            for k, v in b[1]:
                w.writerow([clean(k), clean(v)])
        elif b[0] == "table":
            w.writerow(b[1])
            for row in b[2]:
                w.writerow([clean(c.text) for c in row])
    if doc.footer:
        w.writerow([clean(doc.footer)])
    return buf.getvalue()


def render_docx(doc, g, path):
    import docx
    from docx.shared import Pt
    d = docx.Document()
    st = d.styles["Normal"]
    st.font.name = "MS Gothic"
    st.font.size = Pt(10)
    sec = d.sections[0]
    if doc.header:
        sec.header.paragraphs[0].text = clean(doc.header)
    if doc.footer:
        sec.footer.paragraphs[0].text = clean(doc.footer)
    kv_as_table = g.r.random() < 0.5
    for b in doc.blocks:
        if b[0] == "h":
            d.add_heading(clean(b[1]), level=1)
        elif b[0] in ("p", "label"):
            d.add_paragraph(clean(b[1]))
        elif b[0] == "kv":
            if kv_as_table:
                t = d.add_table(rows=0, cols=2)
                t.style = "Table Grid"
                for k, v in b[1]:
                    cells = t.add_row().cells
                    cells[0].text = clean(k)
                    cells[1].text = clean(v)
            else:
                for k, v in b[1]:
                    d.add_paragraph(f"{clean(k)}：{clean(v)}")
        elif b[0] == "table":
            t = d.add_table(rows=1, cols=len(b[1]))
            t.style = "Table Grid"
            for i, h in enumerate(b[1]):
                t.rows[0].cells[i].text = h
            for row in b[2]:
                cells = t.add_row().cells
                for i, c in enumerate(row):
                    cells[i].text = clean(c.text)
    d.core_properties.author = "総務部"
    d.save(path)


def render_xlsx(doc, g, path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = doc.title[:28].replace("/", "・").replace(":", "：")
    use_numbers = g.r.random() < 0.7
    row = 1
    if doc.header:
        ws.cell(row=row, column=1, value=clean(doc.header))
        row += 2
    first_table = True
    for b in doc.blocks:
        if b[0] in ("h", "p", "label"):
            ws.cell(row=row, column=1, value=clean(b[1]))
            row += 1
        elif b[0] == "kv":
            for k, v in b[1]:
                ws.cell(row=row, column=1, value=clean(k))
                ws.cell(row=row, column=2, value=clean(v))
                row += 1
        elif b[0] == "table":
            if not first_table and g.r.random() < 0.5:
                ws = wb.create_sheet(title=f"Sheet{len(wb.sheetnames) + 1}")
                row = 1
            first_table = False
            for i, h in enumerate(b[1]):
                ws.cell(row=row, column=i + 1, value=h)
            row += 1
            for cells in b[2]:
                for i, c in enumerate(cells):
                    if use_numbers and c.num is not None:
                        ws.cell(row=row, column=i + 1, value=c.num)
                    else:
                        ws.cell(row=row, column=i + 1, value=clean(c.text))
                row += 1
            row += 1
    if doc.footer:
        ws.cell(row=row + 1, column=1, value=clean(doc.footer))
    wb.save(path)


def render_pptx(doc, g, path):
    from pptx import Presentation
    from pptx.util import Inches, Pt
    prs = Presentation()
    s = prs.slides.add_slide(prs.slide_layouts[0])
    s.shapes.title.text = clean(doc.title)
    sub = []
    if doc.header:
        sub.append(clean(doc.header))
    if doc.footer:
        sub.append(clean(doc.footer))
    s.placeholders[1].text = "\n".join(sub) if sub else "2025年度"
    texts = []
    for b in doc.blocks:
        if b[0] in ("h", "p", "label"):
            texts.append(clean(b[1]))
        elif b[0] == "kv":
            texts.extend(f"{clean(k)}：{clean(v)}" for k, v in b[1])
        elif b[0] == "table":
            if texts:
                sl = prs.slides.add_slide(prs.slide_layouts[1])
                sl.shapes.title.text = clean(doc.title)
                sl.placeholders[1].text = "\n".join(texts)
                texts = []
            rows = b[2]
            for start in range(0, len(rows), 8):
                chunk = rows[start:start + 8]
                sl = prs.slides.add_slide(prs.slide_layouts[5])
                sl.shapes.title.text = clean(doc.title)
                shape = sl.shapes.add_table(len(chunk) + 1, len(b[1]), Inches(0.3), Inches(1.5), Inches(9.4), Inches(0.4) * (len(chunk) + 1))
                t = shape.table
                for i, h in enumerate(b[1]):
                    t.cell(0, i).text = h
                for ri, cells in enumerate(chunk):
                    for ci, c in enumerate(cells):
                        t.cell(ri + 1, ci).text = clean(c.text)
                        for para in t.cell(ri + 1, ci).text_frame.paragraphs:
                            for run in para.runs:
                                run.font.size = Pt(10)
    if texts:
        sl = prs.slides.add_slide(prs.slide_layouts[1])
        sl.shapes.title.text = clean(doc.title)
        sl.placeholders[1].text = "\n".join(texts)
    prs.save(path)


_FONT_REGISTERED = {}


def render_pdf_reportlab(doc, g, path, font_path):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas
    if "IPAGothic" not in _FONT_REGISTERED:
        pdfmetrics.registerFont(TTFont("IPAGothic", font_path))
        _FONT_REGISTERED["IPAGothic"] = True
    W, H = A4
    margin = 50
    c = canvas.Canvas(path, pagesize=A4)
    c.setTitle(clean(doc.title))
    y = [H - margin]

    def page_deco():
        c.setFont("IPAGothic", 8)
        if doc.header:
            c.drawString(margin, H - 30, clean(doc.header))
        if doc.footer:
            c.drawString(margin, 25, clean(doc.footer))

    page_deco()

    def newline(h):
        y[0] -= h
        if y[0] < margin:
            c.showPage()
            page_deco()
            y[0] = H - margin - h

    def line(text, size=10):
        t = clean(text)
        while size > 5 and pdfmetrics.stringWidth(t, "IPAGothic", size) > W - 2 * margin:
            size -= 0.5
        newline(size * 1.6)
        c.setFont("IPAGothic", size)
        c.drawString(margin, y[0], t)

    for b in doc.blocks:
        if b[0] == "h":
            line(b[1], 14)
        elif b[0] in ("p", "label"):
            line(b[1], 10)
        elif b[0] == "kv":
            for k, v in b[1]:
                kt, vt = clean(k), clean(v)
                newline(15)
                c.setFont("IPAGothic", 10)
                c.drawString(margin, y[0], kt)
                size = 10
                while size > 5 and pdfmetrics.stringWidth(vt, "IPAGothic", size) > W - 2 * margin - 170:
                    size -= 0.5
                c.setFont("IPAGothic", size)
                c.drawString(margin + 170, y[0], vt)
        elif b[0] == "table":
            header = b[1]
            rows = [[clean(x.text) for x in r] for r in b[2]]
            size = 9
            while True:
                widths = [max(pdfmetrics.stringWidth(str(row[i]), "IPAGothic", size) for row in [header] + rows) + 8
                          for i in range(len(header))]
                if sum(widths) <= W - 2 * margin or size <= 4:
                    break
                size -= 0.5
            for row in [header] + rows:
                newline(size * 1.7)
                x = margin
                c.setFont("IPAGothic", size)
                for i, cell in enumerate(row):
                    c.drawString(x, y[0], str(cell))
                    x += widths[i]
            newline(6)
    c.save()


CSS_FONTS = ["'Noto Sans CJK JP', sans-serif", "'IPAGothic', sans-serif", "'Noto Serif CJK JP', serif"]


def render_html(doc, g):
    def esc(s):
        s = html.escape(s)
        return s.replace(M_OPEN, '<span class="n">').replace(M_CLOSE, "</span>")
    font = g.r.choice(CSS_FONTS)
    out = [f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{esc(clean(doc.title))}</title>',
           f"<style>body{{font-family:{font};font-size:10.5pt;margin:18mm}} .n{{white-space:nowrap}} "
           "table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #888;padding:2px 5px;font-size:9pt} "
           "th{background:#eee} .mark{color:#c00;font-weight:bold;text-align:right} .hdr{font-size:8pt;color:#666}</style></head><body>"]
    if doc.header:
        out.append(f'<div class="hdr">{esc(doc.header)}</div>')
    for b in doc.blocks:
        if b[0] == "h":
            out.append(f"<h1>{esc(b[1])}</h1>")
        elif b[0] == "p":
            out.append(f"<p>{esc(b[1])}</p>")
        elif b[0] == "label":
            out.append(f'<div class="mark">{esc(b[1])}</div>')
        elif b[0] == "kv":
            out.append("<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in b[1]) + "</table>")
        elif b[0] == "table":
            out.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in b[1]) + "</tr>")
            for row in b[2]:
                out.append("<tr>" + "".join(f"<td>{esc(c.text)}</td>" for c in row) + "</tr>")
            out.append("</table>")
    if doc.footer:
        out.append(f'<div class="hdr">{esc(doc.footer)}</div>')
    out.append("</body></html>")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------------------------

TEXT_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "cp932", "euc_jp", "iso2022_jp"]


def encodable_for(enc):
    if enc.startswith("utf"):
        return lambda ch: True

    def ok(ch):
        try:
            ch.encode(enc)
            return True
        except UnicodeEncodeError:
            return False
    return ok


ALTERNATIVES = {"〜": "～", "～": "〜", "－": "−", "−": "－", "¥": "￥", "￥": "円", "‑": "-", "–": "-", "—": "-"}


def encode_text(text, enc, crlf):
    if not enc.startswith("utf"):
        ok = encodable_for(enc)
        out = []
        for ch in text:
            while not ok(ch):
                if ch not in ALTERNATIVES:
                    raise UnicodeEncodeError(enc, ch, 0, 1, "no alternative")
                ch = ALTERNATIVES[ch]
            out.append(ch)
        text = "".join(out)
    if crlf:
        text = text.replace("\n", "\r\n")
    if enc == "utf-16-le":
        return b"\xff\xfe" + text.encode("utf-16-le")
    if enc == "utf-16-be":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(enc)


def plan(rng):
    """(format, producer/encoding, kind) for each file."""
    items = []
    all_kinds = list(KINDS)
    # txt in every encoding
    for i in range(140):
        enc = TEXT_ENCODINGS[i % len(TEXT_ENCODINGS)]
        items.append(("txt", enc, rng.choice(all_kinds)))
    for i in range(50):
        items.append(("csv", "utf-8" if i % 3 == 0 else ("utf-8-sig" if i % 3 == 1 else "cp932"), rng.choice(TABLE_KINDS)))
    for i in range(80):
        items.append(("docx", "python-docx", rng.choice(FORM_KINDS + TABLE_KINDS + ["slides"])))
    for i in range(60):
        items.append(("xlsx", "openpyxl", rng.choice(TABLE_KINDS + ["fuyou", "invoice", "gensen", "gensen"])))
    for i in range(12):
        items.append(("pptx", "python-pptx", rng.choice(["slides", "slides", "minutes", "roster", "travel"])))
    for i in range(45):
        items.append(("pdf", "reportlab", rng.choice(all_kinds)))
    for i in range(36):
        items.append(("pdf", "chromium", rng.choice(all_kinds)))
    return items


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--font", default=os.environ.get("CONTENT_TTF", "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"))
    ap.add_argument("--no-chromium", action="store_true")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    rng = random.Random(args.seed)
    used = set()
    truth, negs, files = [], [], []
    html_jobs = []
    html_dir = tempfile.mkdtemp(prefix="content-html-")
    font_chars = None
    for idx, (fmt, prod, kind) in enumerate(plan(rng)):
        enc = prod if fmt in ("txt", "csv") else "utf-8"
        encodable = encodable_for(enc)
        if prod == "reportlab":
            # Only characters the embedded font has a glyph for (IPAGothic lacks U+2011 and ㊙):
            # a missing glyph would leave the character out of the PDF's text.
            if font_chars is None:
                from reportlab.pdfbase.ttfonts import TTFont
                font_chars = set(TTFont("probe", args.font).face.charToGlyph)
            encodable = lambda ch, fc=font_chars: ord(ch) in fc  # noqa: E731
        g = Gen(random.Random(rng.random()), encodable)
        g.used = used
        doc = KINDS[kind](g)
        ext = fmt
        rel = f"{DIRS[kind]}/{idx:03d}_{FILE_NAMES[kind]}.{ext}"
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if fmt == "txt":
            data = encode_text(render_text(doc, g), enc, crlf=enc in ("cp932", "utf-16-le") and g.r.random() < 0.7)
            with open(path, "wb") as f:
                f.write(data)
        elif fmt == "csv":
            data = encode_text(render_csv(doc, g), enc, crlf=False)
            with open(path, "wb") as f:
                f.write(data)
        elif fmt == "docx":
            render_docx(doc, g, path)
        elif fmt == "xlsx":
            render_xlsx(doc, g, path)
        elif fmt == "pptx":
            render_pptx(doc, g, path)
        elif fmt == "pdf" and prod == "reportlab":
            render_pdf_reportlab(doc, g, path, args.font)
        elif fmt == "pdf":
            if args.no_chromium:
                continue
            hp = os.path.join(html_dir, f"{idx:03d}.html")
            with open(hp, "w", encoding="utf-8") as f:
                f.write(render_html(doc, g))
            html_jobs.append((hp, path))
        files.append({"file": rel, "format": fmt, "producer": prod, "kind": kind})
        for typ, val, ctx, shown in doc.truth:
            truth.append({"file": rel, "type": typ, "value": val, "ctx": ctx, "shown": clean(shown)})
        for k, val in doc.neg:
            negs.append({"file": rel, "kind": k, "value": val})

    def print_pdf(job):
        hp, pdf = job
        # Headless Chromium now and then dies on a busy machine (a crash in a container with
        # a small /dev/shm, a timeout): try again, three times in all, before failing.
        for attempt in range(3):
            ud = tempfile.mkdtemp(prefix="content-chromium-")
            try:
                subprocess.run([args.chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                                "--disable-dev-shm-usage", "--no-pdf-header-footer", f"--user-data-dir={ud}",
                                f"--print-to-pdf={pdf}", "file://" + hp],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
                if os.path.exists(pdf) and os.path.getsize(pdf) > 0:
                    return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
                if attempt == 2:
                    raise
                print(f"generate.py: chromium failed on {os.path.basename(hp)} ({e}), retrying", file=sys.stderr)
            finally:
                shutil.rmtree(ud, ignore_errors=True)
        raise RuntimeError(f"chromium wrote no {pdf}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as ex:
        list(ex.map(print_pdf, html_jobs))
    shutil.rmtree(html_dir, ignore_errors=True)

    # Self-checks of the truth.
    for t in truth:
        v = t["value"]
        if t["type"] == "my_number":
            assert my_number_valid(v), t
        elif t["type"] == "corporate_number":
            assert corporate_valid(v), t
        elif t["type"] == "credit_card":
            assert luhn_ok(v), t
        elif t["type"] == "phone_jp":
            assert v.isdigit() and v[0] == "0" and len(v) in (10, 11), t
        elif t["type"] == "postal_code_jp":
            assert v.isdigit() and len(v) == 7, t
    for n in negs:
        if n["kind"] == "my_number_bad_check":
            assert not my_number_valid(n["value"]), n
    with open(os.path.join(out, "truth.jsonl"), "w", encoding="utf-8") as f:
        for t in truth:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    with open(os.path.join(out, "negatives.jsonl"), "w", encoding="utf-8") as f:
        for n in negs:
            f.write(json.dumps(n, ensure_ascii=False) + "\n")
    with open(os.path.join(out, "files.jsonl"), "w", encoding="utf-8") as f:
        for x in files:
            f.write(json.dumps(x, ensure_ascii=False) + "\n")
    by = {}
    for t in truth:
        by[t["type"]] = by.get(t["type"], 0) + 1
    nb = sum(1 for n in negs if n["kind"] == "my_number_bad_check")
    print(f"generate: {len(files)} files, {len(truth)} truth items {dict(sorted(by.items()))}, "
          f"{len(negs)} negatives ({nb} my_number_bad_check)", file=sys.stderr)


if __name__ == "__main__":
    main()
