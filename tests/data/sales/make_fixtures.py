#!/usr/bin/env python3
"""Writes the synthetic sales exports used by tests/market and examples/sales.

Every file here is made up by us: the layouts (column names, quoting, padding and footer rows,
date and money formats) follow what real exports look like, the values are invented, and every
buyer field holds an obvious placeholder. Run from the repository root:

    python3 tests/data/sales/make_fixtures.py

The tests check hand-computed numbers against these files, so change them together.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
BOM = "\ufeff"

# eBay US Orders report header, 82 columns (2026). A leading '=' marks a name the file leaves
# unquoted; its values are written bare as well.
US_2026 = """Sales Record Number|Order Number|Buyer Username|Buyer Name|Buyer Email|Buyer Note|
=Buyer Address 1|=Buyer Address 2|=Buyer City|Buyer State|Buyer Zip|Buyer Country|
Buyer Tax Identifier Name|Buyer Tax Identifier Value|=Ship To Name|Ship To Phone|
=Ship To Address 1|=Ship To Address 2|=Ship To City|Ship To State|Ship To Zip|Ship To Country|
Item Number|Item Title|=Custom Label|Sold Via Promoted Listings|Quantity|Sold For|
Shipping And Handling|=Item Location|Item Zip Code|Item Country|eBay Collect And Remit Tax Rate|
eBay Collect And Remit Tax Type|eBay Reference Name|=eBay Reference Value|=Tax Status|
Seller Collected Tax|eBay Collected Tax|Electronic Waste Recycling Fee|Mattress Recycling Fee|
Battery Recycling Fee|White Goods Disposal Tax|Tire Recycling Fee|Additional Fee|Lumber Fee|
Prepaid Wireless Fee|Road Improvement And Food Delivery Fee|eBay Collected Charges|Total Price|
eBay Collected Tax and Fees Included in Total|Payment Method|Sale Date|Paid On Date|Ship By Date|
Minimum Estimated Delivery Date|Maximum Estimated Delivery Date|Shipped On Date|Feedback Left|
Feedback Received|My Item Note|PayPal Transaction ID|Shipping Service|Tracking Number|
Transaction ID|=Variation Details|Global Shipping Program|Global Shipping Reference ID|
Click And Collect|Click And Collect Reference Number|eBay Plus|Authenticity Verification Program|
Authenticity Verification Status|Authenticity Verification Outcome Reason|PSA Vault Program|
Vault Fulfillment Type|eBay Fulfillment Program|=Tax City|Tax State|Tax Zip|Tax Country|
eBay International Shipping"""

# The 2023 layout: 79 columns, fewer bare names, "eBay Vault Program", no 2024 fee columns.
US_2023 = (US_2026.replace("=Buyer Address", "Buyer Address").replace("=Buyer City", "Buyer City")
           .replace("=Ship To", "Ship To").replace("=Item Location", "Item Location")
           .replace("=eBay Reference Value", "eBay Reference Value")
           .replace("=Tax Status", "Tax Status").replace("=Tax City", "Tax City")
           .replace("Lumber Fee|\nPrepaid Wireless Fee|Road Improvement And Food Delivery Fee|", "")
           .replace("PSA Vault Program", "eBay Vault Program"))

UK_2022 = """Sales record number|Order number|Buyer username|Buyer name|Buyer email|Buyer note|
Buyer address 1|Buyer address 2|Buyer city|Buyer county|Buyer postcode|Buyer country|
Buyer tax identifier name|Buyer tax identifier value|Post to name|Post to phone|
Post to address 1|Post to address 2|Post to city|Post to county|Post to postcode|Post to country|
Item number|Item title|=Custom label|Sold via Promoted listings|Quantity|Sold for|
Postage and packaging|Item location|Item postcode|Item country|Included VAT rate|
eBay Collect And Remit Tax Rate|eBay Collect And Remit Tax Type|eBay reference name|
eBay reference value|Tax status|Seller collected tax|eBay collected tax|
Electronic waste recycling fee|Mattress recycling fee|Battery recycling fee|
White goods disposal tax|Tyre recycling fee|Additional fee|Total price|
eBay collected tax and fees included in total|Payment method|Sale date|Paid on date|Post by date|
Minimum estimated delivery date|Maximum estimated delivery date|Dispatched on date|Feedback left|
Feedback received|My item note|PayPal transaction ID|Delivery service|Tracking number|
Transaction ID|=Variation details|Global Shipping Programme|Global Shipping Reference ID|
Click and Collect|Click and Collect Reference Number|eBay Plus|eBay Fulfilment Programme"""


def columns(spec):
    names = [n.strip() for n in spec.replace("\n", "").split("|")]
    return [(n.lstrip("="), n.startswith("=")) for n in names]


def field(value, bare):
    value = "" if value is None else str(value)
    needs_quotes = any(c in value for c in ',"\n\r')
    if bare and not needs_quotes:
        return value
    return '"' + value.replace('"', '""') + '"'


def row_text(cols, values):
    return ",".join(field(values.get(name, ""), bare) for name, bare in cols)


# Obvious placeholders for every buyer and ship-to column; tests look for BUYER_NAME anywhere.
BUYER_NAME = "Zebulon Quxworth"


def buyer_fields(masked=False, name=BUYER_NAME):
    person = "--" if masked else name
    return {
        "Buyer Username": "zebulon-qux-77", "Buyer Name": person,
        "Buyer Email": "zebulon.quxworth@example.invalid", "Buyer Note": "",
        "Buyer Address 1": "--" if masked else "77 Quxworth Lane", "Buyer Address 2": "",
        "Buyer City": "Sampletown", "Buyer State": "ZZ", "Buyer Zip": "00077",
        "Buyer Country": "United States", "Ship To Name": person,
        "Ship To Phone": "--" if masked else "555-0199-7788",
        "Ship To Address 1": "--" if masked else "77 Quxworth Lane", "Ship To City": "Sampletown",
        "Ship To State": "ZZ", "Ship To Zip": "00077", "Ship To Country": "United States",
    }


def money_us(cents):
    return "${:,.2f}".format(cents / 100)


def us_sale(srn, order, item, title, price, ship, sale_date, paid=True, qty=1, sku="",
            txn="", tax=0, masked=False, variation="", note="", total=None, name=BUYER_NAME):
    values = buyer_fields(masked, name)
    values.update({
        "Sales Record Number": srn, "Order Number": order, "Item Number": item,
        "Item Title": title, "Custom Label": sku, "Sold Via Promoted Listings": "No",
        "Quantity": qty, "Sold For": money_us(price),
        "Shipping And Handling": money_us(ship) if ship is not None else "",
        "Item Location": "Sampletown, ZZ", "Item Zip Code": "00001", "Item Country": "United States",
        "eBay Collected Tax": money_us(tax),
        "Total Price": money_us(total if total is not None else qty * price + (ship or 0) + tax),
        "eBay Collected Tax and Fees Included in Total": "Yes",
        "Sale Date": sale_date, "Paid On Date": sale_date if paid else "",
        "Shipping Service": "USPS Ground Advantage", "Transaction ID": txn,
        "Variation Details": variation, "My Item Note": note, "Global Shipping Program": "No",
        "Click And Collect": "No", "eBay Plus": "No", "eBay International Shipping": "No",
    })
    if not paid:
        values["Order Number"] = ""
        for key in ("Buyer Address 1", "Ship To Address 1", "Ship To Name", "Ship To Phone"):
            values[key] = ""
    return values


def item_row(values):
    """An item row of a multi-item order: no order-level amounts and no Paid On Date."""
    for key in ("Paid On Date", "Total Price", "Shipping And Handling", "eBay Collected Tax"):
        values[key] = ""
    return values


def ebay_us_file(cols, rows, footer_count, seller="sample-seller", final_newline=False,
                 blank_before_footer=False, line_end="\n"):
    n = len(cols)
    lines = [BOM + "," * 40, ",".join(field(name, bare) for name, bare in cols)]
    padding = row_text(cols, {})
    lines.append(padding)
    lines += [row_text(cols, r) for r in rows]
    lines.append(padding if not blank_before_footer else "")
    lines.append(",".join([field(footer_count, False), field("record(s) downloaded", False)] +
                          ['""'] * (n - 2)))
    lines.append(",".join([field("Seller ID : " + seller, False)] + ['""'] * (n - 1)))
    text = line_end.join(lines)
    return text + (line_end if final_newline else "")


def write(path, text):
    full = os.path.join(ROOT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8", newline="") as f:
        f.write(text)


# ---------------------------------------------------------------------------------------------
# tests/data/sales/ebay-us-2026.csv: every US quirk, numbers checked in ebay_orders_test.cpp.

def us_2026_rows():
    cols = columns(US_2026)
    assert len(cols) == 82, len(cols)
    rows = [
        # newest first, like the real report
        us_sale("1012", "26-11111-00012", "316600000012", "Brown Betty Teapot 6 Cup England ",
                3400, 1250, "Mar-14-26", txn="3100000000012", tax=272),
        us_sale("1011", "26-11111-00011", "316600000011",
                'Zenith Trans-Oceanic 12" Portable Radio', 12500, 2000, "Mar-12-26",
                txn="3100000000011", note="packed with\nextra foam"),
        # multi-item order: summary row, then its two item rows
        us_sale("1010", "26-11111-00010", "", "", 5000, 1800, "Mar-10-26", qty=2, total=6800),
        item_row(us_sale("1010", "26-11111-00010", "316600000101",
                         "Pyrex Butterprint Mixing Bowl 444", 3000, None, "Mar-10-26",
                         txn="3100000000101")),
        item_row(us_sale("1010", "26-11111-00010", "316600000102",
                         "Pyrex Gooseberry Casserole Dish", 2000, None, "Mar-10-26",
                         txn="3100000000102")),
        # never paid: no Order Number, no Paid On Date
        us_sale("1009", "", "316600000009", "Olympus OM-1 35mm Camera Body", 12000, 1500,
                "Mar-09-26", paid=False, txn=""),
        # two units at one price
        us_sale("1008", "26-11111-00008", "316600000008", "Fiesta Ware Dinner Plate Turquoise",
                1800, 1000, "Mar-08-26", qty=2, txn="3100000000008", variation="[Colour: Turquoise]"),
        # the same record twice (exact duplicate)
        us_sale("1007", "26-11111-00007", "316600000007", "Canon AE-1 Program 35mm SLR Film Camera",
                18999, 1500, "Mar-07-26", txn="3100000000007", sku="CAM-AE1"),
        us_sale("1007", "26-11111-00007", "316600000007", "Canon AE-1 Program 35mm SLR Film Camera",
                18999, 1500, "Mar-07-26", txn="3100000000007", sku="CAM-AE1"),
        # paid but Total Price 0: refunded or cancelled
        us_sale("1006", "26-11111-00006", "316600000006", "Smith Corona Typewriter Parts Only",
                4000, 2500, "Mar-06-26", txn="3100000000006", total=0),
        # ISBN in the custom label, masked buyer data on an older order
        us_sale("1005", "26-11111-00005", "316600000005", "Penguin Paperback 1960s Printing",
                900, 450, "Feb-02-26", txn="3100000000005", sku="BK-9780140013993",
                masked=True),
        us_sale("1004", "26-11111-00004", "316600000004", "Sunbeam Radiant Control Toaster T-35",
                8500, 1800, "Jan-20-26", txn="3100000000004", masked=True),
        # a thousands separator
        us_sale("1003", "26-11111-00003", "316600000003", "Steinway Upright Piano Bench",
                150000, 0, "Jan-05-26", txn="3100000000003", masked=True),
    ]
    return cols, rows


def write_us_2026():
    cols, rows = us_2026_rows()
    # The footer counts sales records (1003..1012), not rows.
    write("tests/data/sales/ebay-us-2026.csv", ebay_us_file(cols, rows, 10))


def write_us_2023():
    cols = columns(US_2023)
    assert len(cols) == 79, len(cols)
    rows = [
        us_sale("457", "05-10000-00457", "126100000457", "Kodak Brownie Hawkeye Camera Flash Model",
                3600, 630, "Sep-25-23", txn="2600000000457"),
        us_sale("456", "05-10000-00456", "126100000456",
                'Lenovo ThinkPad X1 Carbon 14" Laptop  ', 52000, 0, "Sep-24-23",
                txn="2600000000456", qty=2, tax=3475),
        us_sale("455", "", "126100000455", "Dell Laptop Unpaid Offer", 150000, 0, "Sep-20-23",
                paid=False),
        us_sale("454", "05-10000-00454", "126100000454", "Nintendo Game Boy Color Japan  ",
                4800, 1900, "Sep-18-23", txn="2600000000454"),
    ]
    # An eBay International Shipping order: ship-to is eBay's hub, the destination is in the
    # Tax columns, and the buyer's state is written in Japanese.
    eis = rows[-1]
    eis.update({"Ship To Name": "eIS C/O " + BUYER_NAME, "Ship To Address 1": "1 Sample Hub Way",
                "Ship To Address 2": "evtn:QX0000077", "Ship To City": "Hubtown",
                "Buyer State": "東京都", "Buyer Country": "Japan", "Tax City": "Minato-ku",
                "Tax State": "東京都", "Tax Country": "JP", "eBay International Shipping": "Yes"})
    text = ebay_us_file(cols, rows, 4)
    write("tests/data/sales/ebay-us-2023.csv", text)


def write_uk_2022():
    cols = columns(UK_2022)
    assert len(cols) == 69, len(cols)
    buyer = {"Buyer username": "zebulon-qux-77", "Buyer name": BUYER_NAME,
             "Post to name": BUYER_NAME, "Post to phone": "07700 900077",
             "Post to address 1": "77 Quxworth Lane", "Post to city": "Sampleford",
             "Post to postcode": "ZZ1 7QX", "Post to country": "United Kingdom"}

    def uk(srn, order, item, title, price, post, date, txn, qty=1):
        v = dict(buyer)
        v.update({"Sales record number": srn, "Order number": order, "Item number": item,
                  "Item title": title, "Quantity": qty, "Sold for": price,
                  "Postage and packaging": post, "Total price": "", "Sale date": date,
                  "Paid on date": date, "Transaction ID": txn})
        return v

    rows = [uk("2201", "22-08000-02201", "294400002201", "Denby Arabesque Teapot", "£19.99",
               "£4.50", "25-May-22", "1900000002201"),
            uk("2200", "22-08000-02200", "294400002200", "Hornby OO Gauge Locomotive Boxed",
               "£1,250.00", "£0.00", "02-Apr-22", "1900000002200")]
    lines = [",".join(field(n, bare) for n, bare in cols)]
    lines += [row_text(cols, r) for r in rows]
    lines.append("83 record(s) downloaded" + "," * 9)
    lines.append("Seller ID: sample-uk-shop" + "," * 9)
    write("tests/data/sales/ebay-uk-2022.csv", "\r\n".join(lines) + "\r\n")


def write_au():
    header = ["Sales Record Number", "Order Number", "Buyer Username", "Item Number",
              "Item Title", "Custom Label", "Quantity", "Sold For", "Postage And Handling",
              "Total Price", "Sale Date", "Tracking Number"]
    q = lambda v: field(v, False)
    rows = [
        ["38", "12-13000-00038", "zebulon-qux-77", "", "", "", "4", "AU $305.00", "AU $46.60",
         "AU $404.35", "26-May-26", ""],
        ["38", "12-13000-00038", "zebulon-qux-77", "156600000381", "Crown Lynn Swan Vase", "",
         "3", "AU $75.00", "", "", "26-May-26", ""],
        ["38", "12-13000-00038", "zebulon-qux-77", "156600000382", "Wembley Ware Lustre Bowl",
         "", "1", "AU $80.00", "", "", "26-May-26", ""],
        ["37", "12-13000-00037", "zebulon-qux-77", "156600000370",
         "Violin 4/4 Full Size Outfit with Bow and Case", "VLN-44", "1", "AU $3,000.00",
         "AU $40.00", "AU $3,040.00", "14-Apr-26", "TRK0000037"],
    ]
    lines = [",".join(q(h) for h in header)] + [",".join(q(v) for v in r) for r in rows]
    lines.append('"2","record(s) downloaded",,,,,,,,,,')
    lines.append('"Seller ID : sample-au-seller",,,,,,,,,,,')
    write("tests/data/sales/ebay-au-2026.csv", "\r\n".join(lines))


def write_legacy():
    header = ("Sales Record Number,User Id,Buyer Fullname,Buyer Phone Number,Buyer Email,"
              "Buyer Address 1,Buyer Address 2,Buyer City,Buyer State,Buyer Zip,Buyer Country,"
              "Order ID,Item ID,Transaction ID,Item Title,Quantity,Sale Price,"
              "Shipping And Handling,Sales Tax,Insurance,Total Price,Payment Method,"
              "PayPal Transaction ID,Sale Date,Checkout Date,Paid on Date,Shipped on Date,"
              "Shipping Service,Feedback Left,Feedback Received,Notes to Yourself,Custom Label,"
              "Listed On,Sold On,Private Notes,Product ID Type,Product ID Value,"
              "Product ID Value 2,Variation Details,Product Reference ID,Tracking Number")
    names = header.split(",")

    def legacy(srn, order, item, txn, title, price, ship, date, paid):
        v = {"Sales Record Number": srn, "User Id": "zebulon-qux-77", "Buyer Fullname": BUYER_NAME,
             "Buyer Phone Number": "555-0199-7788", "Buyer Email": "zebulon@example.invalid",
             "Buyer Address 1": "77 Quxworth Lane", "Buyer City": "Sampletown",
             "Order ID": order, "Item ID": item, "Transaction ID": txn, "Item Title": title,
             "Quantity": "1", "Sale Price": price, "Shipping And Handling": ship,
             "Total Price": price, "Sale Date": date, "Paid on Date": paid}
        return ",".join(field(v.get(n, ""), True) for n in names)

    lines = [header,
             legacy("5001", "", "172200005001", "1500000005001",
                    "Polaroid SX-70 Land Camera Folding", "$95.00", "$12.00", "Mar-15-17",
                    "Mar-15-17"),
             legacy("5000", "", "172200005000", "1500000005000", "Pentax K1000 SLR Body",
                    "$60.00", "$10.00", "Feb-28-17", "")]
    write("tests/data/sales/ebay-legacy-2017.csv", "\n".join(lines) + "\n")


def write_fr():
    header = ("Numéro de vente;Numéro de commande;Pseudo de l'acheteur;Numéro de l'objet;"
              "Intitulé de l'objet;Quantité;Vendu pour;Livraison et manutention;Date de vente")
    lines = ["", header,
             '"301";"09-14000-00301";"zebulon-qux-77";"276600000301";'
             '"Machine à écrire Olivetti Lettera 32";"1";"1 234,50 €";"15,00 €";"05-oct.-26"',
             '"300";"09-14000-00300";"zebulon-qux-77";"276600000300";'
             '"Théière Bernardaud porcelaine";"2";"EUR 90,00";"EUR 9,00";"12-déc.-25"',
             '"2 record(s) downloaded";;;;;;;;']
    write("tests/data/sales/ebay-fr-2026.csv", "\n".join(lines) + "\n")


def write_malformed():
    cols = columns(US_2026)
    _, rows = us_2026_rows()
    head = [BOM + "," * 40, ",".join(field(n, bare) for n, bare in cols), row_text(cols, {})]
    data = [row_text(cols, rows[0]).replace('"1012"', '"%d"' % (1200 + i)) for i in range(10)]
    # Lines 4..13 are good rows; line 14 opens a quote that never closes.
    broken = '"1300","26-11111-01300","zebulon-qux-77","' + BUFFER_TEXT
    write("tests/data/sales/ebay-unterminated-quote.csv", "\n".join(head + data + [broken]))

    # Line 5: a quote inside a bare (unquoted) field.
    lines = head + [row_text(cols, rows[0]), row_text(cols, rows[1])]
    parts = lines[4].split(",")
    first_bare = [i for i, (_, bare) in enumerate(cols) if bare][0]
    assert parts[first_bare] == "77 Quxworth Lane", parts[first_bare]
    parts[first_bare] = '77 "Quxworth" Lane'
    lines[4] = ",".join(parts)
    write("tests/data/sales/ebay-stray-quote.csv", "\n".join(lines))


BUFFER_TEXT = "Unclosed buyer note, with a comma,,,,,"


def write_bad_rows():
    cols = columns(US_2026)
    rows = [
        us_sale("801", "26-22222-00801", "316600000801", "Good Row Teapot", 2500, 500,
                "Apr-01-26", txn="3100000000801"),
        us_sale("802", "26-22222-00802", "316600000802", "Bad Price Row", 0, 500, "Apr-02-26",
                txn="3100000000802"),
        us_sale("803", "26-22222-00803", "316600000803", "Bad Date Row", 2500, 500, "Apr-31-26",
                txn="3100000000803"),
        us_sale("804", "26-22222-00804", "316600000804", "Bad Quantity Row", 2500, 500,
                "Apr-04-26", txn="3100000000804"),
        us_sale("805", "26-22222-00805", "316600000805", "Another Good Row", 4000, 0,
                "Apr-05-26", txn="3100000000805"),
    ]
    rows[1]["Sold For"] = "twelve dollars"
    rows[3]["Quantity"] = "two"
    write("tests/data/sales/ebay-bad-rows.csv", ebay_us_file(cols, rows, 5))


def write_overlap():
    cols = columns(US_2026)
    sales = [us_sale(str(600 + i), "26-33333-%05d" % (600 + i), "3166000006%02d" % i,
                     "Overlap Item Number %d Camera" % i, 1000 * (i + 1), 300,
                     "Feb-%02d-26" % (i + 1), txn="31000000006%02d" % i) for i in range(9)]
    # a: sales 0..5, b: sales 3..8 (newest first in each file)
    write("tests/data/sales/ebay-overlap-a.csv",
          ebay_us_file(cols, list(reversed(sales[0:6])), 6))
    write("tests/data/sales/ebay-overlap-b.csv",
          ebay_us_file(cols, list(reversed(sales[3:9])), 6, final_newline=True,
                       blank_before_footer=True))


def write_etsy():
    header = ("Sale Date,Item Name,Buyer,Quantity,Price,Coupon Code,Coupon Details,"
              "Discount Amount,Shipping Discount,Order Shipping,Order Sales Tax,Item Total,"
              "Currency,Transaction ID,Listing ID,Date Paid,Date Shipped,Ship Name,"
              "Ship Address1,Ship Address2,Ship City,Ship State,Ship Zipcode,Ship Country,"
              "Order ID,Variations,Order Type,Listings Type,Payment Type,InPerson Discount,"
              "InPerson Location,VAT Paid by Buyer,SKU")
    names = header.split(",")

    def etsy(date, name, qty, price, ship, txn, listing, order, variations="", sku=""):
        v = {"Sale Date": date, "Item Name": name, "Buyer": BUYER_NAME + " (zebqux)",
             "Quantity": qty, "Price": price, "Order Shipping": ship, "Currency": "USD",
             "Transaction ID": txn, "Listing ID": listing, "Date Paid": date,
             "Ship Name": BUYER_NAME, "Ship Address1": "77 Quxworth Lane",
             "Ship City": "Sampletown", "Ship State": "ZZ", "Ship Zipcode": "00077",
             "Ship Country": "United States", "Order ID": order, "Variations": variations,
             "Order Type": "online", "Listings Type": "listing", "Payment Type": "online_cc",
             "SKU": sku}
        return ",".join(field(v.get(n, ""), True) for n in names)

    lines = [header,
             etsy("09/06/26", "Handmade Stoneware Mug, Blue Glaze", "2", "34.00", "8.00",
                  "4100000001", "1500000001", "3300000001", "Colour:Blue", "MUG-BLUE"),
             etsy("09/06/26", "Stoneware Teapot Speckled", "1", "32.00", "8.00", "4100000002",
                  "1500000002", "3300000001"),
             etsy("08/30/26", "Vintage Brass Bookends Pair", "1", "$45.00", "6.50", "4100000003",
                  "1500000003", "3300000002")]
    write("tests/data/sales/etsy-sold-order-items.csv", "\n".join(lines) + "\n")

    orders = ("Sale Date,Order ID,Buyer User ID,Full Name,First Name,Last Name,Number of Items,"
              "Payment Method,Date Shipped,Street 1,Street 2,Ship City,Ship State,Ship Zipcode,"
              "Ship Country,Currency,Order Value,Coupon Code,Coupon Details,Discount Amount,"
              "Shipping Discount,Shipping,Sales Tax,Order Total,Status,Card Processing Fees,"
              "Order Net,Adjusted Order Total,Adjusted Card Processing Fees,"
              "Adjusted Net Order Amount,Buyer,Order Type,Payment Type,InPerson Discount,"
              "InPerson Location,SKU")
    write("tests/data/sales/etsy-sold-orders.csv",
          orders + "\n09/06/26,3300000001,zebqux," + BUYER_NAME + ",Zebulon,Quxworth,3\n")


def write_mercari():
    header = ["Item Id", "Sold Date", "Canceled Date", "Completed Date", "Item Title",
              "Order Status", "Shipped to State", "Shipped from State", "Item Price",
              "Buyer Shipping Fee", "Seller Shipping Fee", "Mercari Selling Fee",
              "Payment Processing Fee", "Shipping Adjustment Fee", "Net Seller Proceeds",
              "Sales Tax Charged to Buyer", "Merchant Fees Charged to Buyer"]
    rows = [
        ["m10000000001", "2026-06-21", "", "2026-06-25", "Le Creuset Dutch Oven 24 Flame",
         "Completed", "ZZ", "ZZ", "79.00", "7.40", "0.00", "7.90", "3.01", "0.00", "68.09",
         "7.45", "0.00"],
        ["m10000000002", "2026-06-18", "2026-06-19", "", "Corning Ware Blue Cornflower Set",
         "Canceled", "ZZ", "ZZ", "40.00", "6.00", "0.00", "0.00", "0.00", "0.00", "0.00",
         "0.00", "0.00"],
        ["b10000000003", "2026-06-15", "", "2026-06-18", "Bundle of Three Paperbacks",
         "Completed", "ZZ", "ZZ", "24.00", "5.00", "0.00", "2.40", "1.00", "0.00", "20.60",
         "2.00", "0.00"],
        ["m10000000004", "2026-06-10", "", "2026-06-12", "Singer Featherweight 221 Case",
         "Completed", "ZZ", "ZZ", "1,150.00", "0.00", "25.00", "115.00", "35.00", "0.00",
         "975.00", "90.00", "0.00"],
    ]
    q = lambda v: field(v, False)
    lines = [",".join(q(h) for h in header)] + [",".join(q(v) for v in r) for r in rows]
    write("tests/data/sales/mercari-sales.csv", "\n".join(lines) + "\n")


def write_poshmark():
    header = ("Listing Date,Order Date,SKU,Order Id,Listing Title,Department,Category,"
              "Subcategory,Brand,Color,Size,Bundle Order?,Offer Order,NWT,Cost Price,Order Price,"
              "Lowest Set Price,Seller Shipping Discount,Upgraded Shipping Label Fee,Packaging Fee,"
              "Your Earnings,Buyer State,Buyer Zip Code,Buyer Username,Sales Tax (Paid by Buyer),"
              "Notes,Other Info")
    lines = [
        'Poshmark Sales Report for @sample-closet,"","",x,x',
        "12/31/2025 - 06/30/2026",
        '""',
        header,
        '07/02/2025,01/27/2026,"",PM0001,Pendleton Wool Shirt Plaid,Men,Shirts,Casual,'
        'Pendleton,"Red",L,N,Y,N,"",$65.00,$80.00,$0.00,$0.00,$0.00,$52.00,ZZ,00077,'
        'zebulon-qux-77,$5.07,$0.00,"",',
        '08/02/2025,02/03/2026,"",PM0002,Coach Leather Bag Bundle,Women,Bags,Shoulder,'
        'Coach,"Brown",OS,Y,N,N,"",$120.00,$150.00,$0.00,$0.00,$0.00,$96.00,ZZ,00077,'
        'zebulon-qux-77,$9.30,$0.00,"",',
        '09/12/2025,03/15/2026,SKU-77,PM0003,Levi\'s 501 Jeans 32x30,Men,Jeans,Straight,'
        'Levi\'s,"Blue",32,N,N,N,"",$38.00,$45.00,$0.00,$0.00,$0.00,$30.40,ZZ,00077,'
        'zebulon-qux-77,--,$0.00,"",',
        "",
        '"Total",,,,,,,,,,,,,,,,,,,,$178.40',
    ]
    write("tests/data/sales/poshmark-sales.csv", "\n".join(lines))


def write_transactions():
    header = ("Transaction creation date,Type,Order number,Legacy order ID,Buyer username,"
              "Buyer name,Ship to city,Ship to province/region/state,Ship to zip,Ship to country,"
              "Net amount,Payout currency,Payout date,Payout ID,Payout method,Payout status,"
              "Reason for hold,Item ID,Transaction ID,Item title,Custom label,Quantity,"
              "Item subtotal,Shipping and handling,Seller collected tax,eBay collected tax,"
              "Final Value Fee - fixed,Final Value Fee - variable,"
              '"Very high ""item not as described"" fee",Below standard performance fee,'
              "International fee,Charity donation,Deposit processing fee,"
              "Gross transaction amount,Transaction currency,Exchange rate,Reference ID,"
              "Description")
    preamble = [BOM + ",".join(["--"] * 13), "Notes",
                "Gross transaction amount: the total a buyer paid before fees (sample text).",
                "Amounts in this sample are invented.", "All fee amounts shown include taxes.",
                "", "Transaction report",
                'This report includes transaction type,"order, refund, payout "',
                "Seller,sample-seller", "Start date,Jan-01-2026 00:00:00 AM PST",
                "End date,Mar-31-2026 23:59:59 PM PST"]

    def tx(date, kind, order, item, txn, title, qty, subtotal, ship, gross):
        return (f'"{date}",{kind},{order},{order},zebulon-qux-77,{BUYER_NAME},Sampletown,ZZ,'
                f'00077,US,{gross},USD,--,--,--,--,--,{item},{txn},{title},--,{qty},{subtotal},'
                f'{ship},--,0,-0.3,-10.00,--,--,--,--,--,{gross},USD,--,--,--')

    rows = [
        tx("Mar 27, 2026", "Order", "27-44444-00001", "126600000001", "2700000000001",
           "Kodak Vision3 250D 100' Roll 35mm Film", "2", "110", "10.25", "120.25"),
        tx("Mar 20, 2026", "Order", "27-44444-00002", "126600000002", "2700000000002",
           "Nikon FM2 Camera Body Black", "1", "320.00", "15", "335.00"),
        tx("Mar 22, 2026", "Refund", "27-44444-00002", "126600000002", "2700000000002",
           "Nikon FM2 Camera Body Black", "1", "-320.00", "-15", "-335.00"),
        '"Mar 28, 2026",Payout,--,--,--,--,--,--,--,--,-400.00,USD,Mar 28 2026,P-1,Bank,'
        'Initiated,--,--,--,--,--,--,--,--,--,--,--,--,--,--,--,--,--,--,USD,--,--,--',
    ]
    write("tests/data/sales/ebay-transactions-2026.csv",
          "\n".join(preamble + [header] + rows) + "\n")


def write_listings_sales():
    text = (BOM + "," * 14 + "\nDisclaimers\n\"Report for Jan 1, 2026 to Mar 31, 2026\"\n"
            "Listing title,eBay item ID,Store category L1,Store category L2,Quantity sold,"
            "Total sales (Includes taxes),Item sales,\n"
            '"Sample Listing Title",126600000009,-,-,1,$17.86,$12.00,\n')
    write("tests/data/sales/ebay-listings-sales.csv", text)


def write_unknown():
    write("tests/data/sales/not-a-sales-export.csv",
          "name,colour,size\nmug,blue,large\nbowl,green,small\n")


# ---------------------------------------------------------------------------------------------
# examples/sales/ebay-orders-sample.csv: a plausible US export of a second-hand seller.

def isbn13(stem12):
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(stem12))
    return stem12 + str((10 - total % 10) % 10)


def write_example():
    cols = columns(US_2026)
    S = lambda *a, **k: us_sale(*a, name="Sample Buyer", **k)
    rows = [
        S("2125", "14-12345-02125", "336600002125", "Brown Betty Teapot 6 Cup Made in England",
          3600, 1295, "Mar-28-26", txn="4200000002125", tax=290),
        S("2124", "14-12345-02124", "336600002124",
          "Canon AE-1 Program 35mm SLR Film Camera with FD 50mm f/1.8 Lens Tested", 21500, 1650,
          "Mar-26-26", txn="4200000002124", sku="CAM-0412", tax=1720),
        S("2123", "14-12345-02123", "336600002123",
          "Royal Quiet De Luxe Portable Typewriter 1952 with Case Works", 16500, 3800,
          "Mar-25-26", txn="4200000002123", tax=1320),
        S("2122", "14-12345-02122", "336600002122", "Full Size 4/4 Violin with Bow and Hard Case",
          14000, 3200, "Mar-23-26", txn="4200000002122", sku="VLN-0098"),
        S("2121", "14-12345-02121", "336600002121",
          "Sunbeam Radiant Control Toaster T-35 Chrome Mid Century", 8900, 1900, "Mar-22-26",
          txn="4200000002121"),
        S("2120", "14-12345-02120", "336600002120",
          "Penguin Books Paperback Classic 1960s Printing", 1200, 475, "Mar-21-26",
          txn="4200000002120", sku="BK-9780140013993"),
        S("2119", "14-12345-02119", "336600002119", "Collectible Tin Can Unopened Spain",
          1450, 600, "Mar-20-26", txn="4200000002119", sku="EAN8413000065504"),
        # multi-item order: summary + two items
        S("2118", "14-12345-02118", "", "", 5400, 2100, "Mar-19-26", qty=2, tax=430,
          total=7930),
        item_row(S("2118", "14-12345-02118", "336600021181",
                   "Pyrex Butterprint Mixing Bowl 443 Turquoise", 3200, None, "Mar-19-26",
                   txn="4200000021181")),
        item_row(S("2118", "14-12345-02118", "336600021182",
                   "Pyrex Gooseberry Cinderella Casserole 1.5 qt", 2200, None, "Mar-19-26",
                   txn="4200000021182")),
        S("2117", "", "336600002117", "Olympus OM-1 35mm Film Camera Body", 13500, 1500,
          "Mar-18-26", paid=False),
        S("2116", "14-12345-02116", "336600002116",
          "Brown Betty Teapot 4 Cup Rockingham Glaze", 2900, 1295, "Mar-16-26",
          txn="4200000002116"),
        S("2115", "14-12345-02115", "336600002115",
          "Smith Corona Silent Super Typewriter Script Font", 12900, 3500, "Mar-14-26",
          txn="4200000002115"),
        S("2114", "14-12345-02114", "336600002114", "Canon AE-1 35mm Film Camera Body Only",
          11900, 1500, "Mar-12-26", txn="4200000002114"),
        S("2114", "14-12345-02114", "336600002114", "Canon AE-1 35mm Film Camera Body Only",
          11900, 1500, "Mar-12-26", txn="4200000002114"),
        S("2113", "14-12345-02113", "336600002113",
          "The Hobbit Ballantine Paperback 1970s", 1800, 475, "Mar-10-26", txn="4200000002113",
          sku="BK-" + isbn13("978034533968")),
        S("2112", "14-12345-02112", "336600002112", "Fiesta Ware Dinner Plates Cobalt Set",
          1800, 1100, "Mar-08-26", qty=3, txn="4200000002112", variation="[Colour: Cobalt]"),
        S("2111", "14-12345-02111", "336600002111", "Toastmaster 1B14 Chrome Toaster 1950s",
          6500, 1800, "Mar-05-26", txn="4200000002111"),
        S("2110", "14-12345-02110", "336600002110",
          'Zenith Trans-Oceanic 12" Shortwave Radio Parts or Repair', 7500, 2400, "Mar-03-26",
          txn="4200000002110"),
        S("2109", "14-12345-02109", "336600002109", "Yamaha Student Violin 3/4 Outfit",
          11000, 2800, "Feb-27-26", txn="4200000002109", masked=True),
        S("2108", "14-12345-02108", "336600002108", "Hall China Teapot Aladdin Cobalt Gold",
          4200, 1400, "Feb-24-26", txn="4200000002108", masked=True),
        S("2107", "14-12345-02107", "336600002107", "Pentax K1000 SLR Camera 50mm f/2 Lens",
          15500, 1650, "Feb-20-26", txn="4200000002107", masked=True),
        S("2106", "14-12345-02106", "336600002106", "Penguin Modern Classics Paperback Lot of 5",
          2400, 900, "Feb-17-26", txn="4200000002106", masked=True,
          sku="BK-" + isbn13("978014118776")),
        S("2105", "14-12345-02105", "336600002105", "Olivetti Lettera 32 Typewriter with Case",
          14900, 3200, "Feb-12-26", txn="4200000002105", masked=True),
        S("2104", "14-12345-02104", "336600002104", "Collectible Tin Can Unopened Spain",
          1300, 600, "Feb-09-26", txn="4200000002104", sku="EAN8413000065504", masked=True),
        S("2103", "14-12345-02103", "336600002103", "Brown Betty Teapot 6 Cup England",
          3300, 1295, "Feb-05-26", txn="4200000002103", masked=True),
        S("2102", "14-12345-02102", "336600002102", "Sunbeam T-20 Toaster Chrome Vintage",
          5900, 1800, "Feb-02-26", txn="4200000002102", masked=True),
    ]
    text = ebay_us_file(cols, rows, 24, seller="sample-seller", blank_before_footer=True)
    write("examples/sales/ebay-orders-sample.csv", text)


if __name__ == "__main__":
    write_us_2026()
    write_us_2023()
    write_uk_2022()
    write_au()
    write_legacy()
    write_fr()
    write_malformed()
    write_bad_rows()
    write_overlap()
    write_etsy()
    write_mercari()
    write_poshmark()
    write_transactions()
    write_listings_sales()
    write_unknown()
    write_example()
