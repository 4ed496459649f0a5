// The synthetic resume corpus: ten occupation classes written as `id:::Label:::text` lines.
// Every doc is generated from its own RNG stream (seed, doc index), so a doc does not depend on the
// docs before it.  The class signal is spread through the whole text: the title comes first and
// every sentence draws its skills and tasks from a mixture of the doc's class, a confusable sibling
// class, the class's group (developers / infrastructure / management) and shared resume words.  The
// mixture weight of the own class varies per doc (0.15..0.75), so some docs are genuinely ambiguous.
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"

const char *const ACA_RESUME_CLASSES[10] = {
    "Software Developer",    "Web Developer",         "Front End Developer",     "Java Developer",
    "Python Developer",      "Project Manager",       "Systems Administrator",   "Network Administrator",
    "Database Administrator", "Security Analyst"};

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct {
    const char *label; // as written in the file
    double weight;     // class frequency
    int sibling;       // the most confusable class
    int group;         // index into GROUPS
    const char *const *titles;
    const char *const *tools;
    const char *const *tasks;
} synth_class;

typedef struct {
    const char *const *tools;
    const char *const *tasks;
} synth_group;

static const synth_group GROUPS[3] = {
    {LIST("Git", "Jira", "Agile", "Scrum", "Docker", "Linux", "Jenkins", "Visual Studio", "JSON", "XML", "SQL",
          "REST", "GitHub", "Bitbucket", "Confluence", "Kubernetes", "AWS", "Azure", "unit testing", "design patterns"),
     LIST("new features", "bug fixes", "code reviews", "unit tests", "technical documentation", "REST APIs",
          "the release process", "legacy code", "business requirements", "sprint planning", "production issues",
          "the build pipeline", "reusable components", "performance problems")},
    {LIST("Linux", "Windows Server", "VMware", "Active Directory", "PowerShell", "Bash", "Nagios", "ServiceNow",
          "Office 365", "Exchange", "DNS", "DHCP", "Hyper-V", "Splunk", "SCCM", "Veeam", "TCP/IP", "Red Hat"),
     LIST("server maintenance", "incident tickets", "patch management", "backups", "system monitoring",
          "disaster recovery", "user accounts", "help desk escalations", "capacity planning", "change requests",
          "the data center", "hardware upgrades", "service outages", "root cause analysis")},
    {LIST("Microsoft Project", "Excel", "PowerPoint", "SharePoint", "Smartsheet", "Jira", "Visio", "MS Office",
          "PMP", "Agile", "Waterfall", "Six Sigma"),
     LIST("project schedules", "budgets", "stakeholder meetings", "status reports", "risk registers",
          "vendor contracts", "resource plans", "milestones", "project scope", "change requests",
          "lessons learned", "executive presentations")},
};

static const synth_class CLASSES[10] = {
    {"Software_Developer", 0.15, 3, 0,
     LIST("Software Developer", "Software Engineer", "Application Developer", "Senior Software Engineer",
          "Programmer Analyst"),
     LIST("C++", "C#", ".NET", "Java", "Python", "object oriented design", "data structures", "algorithms",
          "multithreading", "Qt", "embedded C", "MATLAB", "TDD", "UML", "microservices", "Windows Forms"),
     LIST("desktop applications", "software modules", "embedded firmware", "application architecture",
          "back end services", "algorithms", "software requirements", "object models", "test automation",
          "the software development life cycle", "client applications")},
    {"Web_Developer", 0.09, 2, 0,
     LIST("Web Developer", "Full Stack Developer", "Web Designer", "PHP Developer", "Web Programmer"),
     LIST("PHP", "WordPress", "HTML", "CSS", "JavaScript", "jQuery", "MySQL", "Laravel", "Drupal", "Node.js",
          "Apache", "cPanel", "SEO", "Google Analytics", "Bootstrap", "Magento", "AJAX"),
     LIST("websites", "web pages", "landing pages", "e-commerce sites", "content management systems",
          "web forms", "site performance", "search engine optimization", "web hosting", "client websites",
          "shopping carts")},
    {"Front_End_Developer", 0.07, 1, 0,
     LIST("Front End Developer", "UI Developer", "Front End Engineer", "Web Developer", "UI Engineer"),
     LIST("React", "Angular", "Vue.js", "TypeScript", "JavaScript", "HTML5", "CSS3", "Sass", "Redux", "Webpack",
          "Bootstrap", "jQuery", "Figma", "responsive design", "accessibility", "Jest"),
     LIST("user interfaces", "single page applications", "UI components", "responsive layouts", "web pages",
          "style guides", "mockups", "cross browser issues", "front end architecture", "interactive dashboards",
          "page load times")},
    {"Java_Developer", 0.12, 0, 0,
     LIST("Java Developer", "Java Engineer", "J2EE Developer", "Senior Java Developer", "Software Engineer"),
     LIST("Java", "J2EE", "Spring", "Spring Boot", "Hibernate", "JPA", "Maven", "Gradle", "JUnit", "Tomcat",
          "JSP", "Servlets", "Struts", "WebLogic", "JMS", "Kafka", "Oracle"),
     LIST("enterprise applications", "web services", "microservices", "Spring controllers", "batch jobs",
          "persistence layers", "SOAP services", "back end services", "message queues", "business logic",
          "server side components")},
    {"Python_Developer", 0.07, 0, 0,
     LIST("Python Developer", "Python Engineer", "Django Developer", "Data Engineer", "Software Engineer"),
     LIST("Python", "Django", "Flask", "pandas", "NumPy", "SQLAlchemy", "Celery", "pytest", "PostgreSQL",
          "FastAPI", "Jupyter", "scikit-learn", "Airflow", "Redis", "PySpark", "boto3"),
     LIST("data pipelines", "automation scripts", "web scrapers", "ETL jobs", "Django applications",
          "data models", "analytics reports", "machine learning models", "command line tools", "APIs",
          "scheduled tasks")},
    {"Project_Manager", 0.12, 0, 2,
     LIST("Project Manager", "IT Project Manager", "Program Manager", "Technical Project Manager",
          "Project Coordinator"),
     LIST("PMP", "PRINCE2", "Microsoft Project", "Agile", "Scrum", "Kanban", "earned value", "Gantt charts",
          "budgeting", "risk management", "stakeholder management", "procurement", "ITIL"),
     LIST("project plans", "cross functional teams", "project budgets", "client expectations", "deliverables",
          "implementation projects", "scope changes", "project teams", "go live activities", "steering committees",
          "statements of work")},
    {"Systems_Administrator", 0.11, 7, 1,
     LIST("Systems Administrator", "System Administrator", "Linux Administrator", "IT Administrator",
          "Windows Administrator"),
     LIST("Linux", "Windows Server", "VMware", "Active Directory", "Group Policy", "Ansible", "Puppet", "Bash",
          "PowerShell", "Exchange", "SAN", "NFS", "cron", "RHEL", "CentOS", "Hyper-V"),
     LIST("servers", "virtual machines", "user accounts", "file shares", "patches", "backup jobs", "print servers",
          "system images", "storage arrays", "shell scripts", "server builds")},
    {"Network_Administrator", 0.09, 6, 1,
     LIST("Network Administrator", "Network Engineer", "Network Technician", "Network Analyst",
          "Systems Administrator"),
     LIST("Cisco", "CCNA", "routers", "switches", "firewalls", "VLAN", "VPN", "BGP", "OSPF", "TCP/IP", "DNS",
          "DHCP", "Wireshark", "SolarWinds", "Juniper", "Meraki", "wireless access points"),
     LIST("network infrastructure", "LAN and WAN links", "network outages", "routing tables", "switch ports",
          "VPN tunnels", "firewall rules", "network diagrams", "cabling", "wireless networks", "network traffic")},
    {"Database_Administrator", 0.10, 6, 1,
     LIST("Database Administrator", "DBA", "Oracle DBA", "SQL Server DBA", "Database Engineer"),
     LIST("Oracle", "SQL Server", "MySQL", "PostgreSQL", "T-SQL", "PL/SQL", "RMAN", "Data Guard", "RAC", "SSIS",
          "SSRS", "MongoDB", "indexes", "stored procedures", "replication", "Always On"),
     LIST("databases", "database backups", "query performance", "stored procedures", "database schemas",
          "data migrations", "replication", "database upgrades", "indexes", "database security", "SQL queries")},
    {"Security_Analyst", 0.08, 7, 1,
     LIST("Security Analyst", "Information Security Analyst", "Cyber Security Analyst", "SOC Analyst",
          "Security Engineer"),
     LIST("SIEM", "Splunk", "QRadar", "Nessus", "firewalls", "IDS", "IPS", "NIST", "ISO 27001", "CISSP",
          "Security+", "penetration testing", "vulnerability scanning", "phishing", "malware analysis", "PCI DSS"),
     LIST("security incidents", "vulnerability assessments", "security alerts", "access reviews",
          "security policies", "audit findings", "threat intelligence", "risk assessments", "security controls",
          "incident response", "compliance reports")},
};

// Shared resume English.
static const char *const VERBS[] = {"Developed", "Designed", "Implemented", "Maintained", "Managed", "Led",
                                    "Built", "Configured", "Supported", "Improved", "Automated", "Coordinated",
                                    "Migrated", "Tested", "Deployed", "Monitored", "Documented", "Reviewed",
                                    "Optimized", "Delivered", "Upgraded", "Administered", "Planned", "Created"};
static const char *const VERBS_INF[] = {"develop", "design", "deliver", "support", "improve", "plan", "review",
                                        "test", "document", "troubleshoot", "maintain", "launch", "migrate"};
static const char *const ADJS[] = {"scalable", "reliable", "secure", "complex", "critical", "new", "existing",
                                   "internal", "customer facing", "high volume", "large", "key", "daily"};
static const char *const CONTEXTS[] = {"for internal customers", "across several teams", "in a fast paced environment",
                                       "to meet tight deadlines", "for a large retail client", "on schedule",
                                       "for the finance department", "in an Agile team", "for healthcare clients",
                                       "across multiple sites", "with minimal downtime", "for over 500 users",
                                       "in a regulated industry", "as part of a small team"};
static const char *const RESULTS[] = {"reducing costs by 15 percent", "cutting response times in half",
                                      "improving customer satisfaction", "saving hours of manual work every week",
                                      "reducing defects significantly", "meeting every audit requirement",
                                      "increasing uptime to 99.9 percent", "earning recognition from management"};
static const char *const TEAMS[] = {"business analysts", "the QA team", "product owners", "senior management",
                                    "vendors", "end users", "the operations team", "developers", "clients",
                                    "the architecture group"};
static const char *const SOFT[] = {"communication", "problem solving", "teamwork", "leadership", "time management",
                                   "attention to detail", "customer service", "Microsoft Office", "Excel",
                                   "documentation", "mentoring", "critical thinking"};
static const char *const COMPANIES[] = {"Acme Corporation", "Globex", "Initech", "Northwind Traders", "Contoso",
                                        "Fabrikam", "Blue Ridge Systems", "Summit Health", "First National Bank",
                                        "Pacific Logistics", "Union Insurance", "Bright Horizons Software",
                                        "Lakeside Manufacturing", "Metro Transit Authority", "Sterling Consulting"};
static const char *const CITIES[] = {"Austin, TX", "Chicago, IL", "Denver, CO", "Seattle, WA", "Boston, MA",
                                     "Atlanta, GA", "Phoenix, AZ", "Columbus, OH", "Raleigh, NC", "Dallas, TX",
                                     "Portland, OR", "Tampa, FL", "Minneapolis, MN", "San Diego, CA"};
static const char *const CITIES_ACCENT[] = {"Montréal, QC", "Zürich", "München", "Québec City", "Düsseldorf"};
static const char *const FIRST[] = {"John", "Mary", "David", "Sarah", "Michael", "Jennifer", "James", "Linda",
                                    "Robert", "Priya", "Wei", "Carlos", "Emily", "Ahmed", "Anna", "Kevin"};
static const char *const FIRST_ACCENT[] = {"José", "René", "Zoë", "Jürgen", "Hélène", "André", "Chloé"};
static const char *const LAST[] = {"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
                                   "Patel", "Nguyen", "Kim", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas"};
static const char *const LAST_ACCENT[] = {"Müller", "Dubé", "Pérez", "Gómez", "Schäfer", "Lefèvre"};
static const char *const DEGREES[] = {"Bachelor of Science in Computer Science", "Bachelor of Science in Information Technology",
                                      "Master of Science in Computer Science", "Bachelor of Arts in Business Administration",
                                      "Associate Degree in Network Technology", "Master of Business Administration",
                                      "Bachelor of Engineering in Electronics"};
static const char *const SCHOOLS[] = {"State University", "University of Texas", "Ohio State University",
                                      "Georgia Tech", "Community College", "Arizona State University",
                                      "University of Washington", "Purdue University"};
static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                     "Nov", "Dec"};
// Code-like snippets, the natural home of '{' and '}' in resumes.
static const char *const SNIPPETS_DEV[] = {
    "Sample code: public void run() { process(queue); }", "Example: if (user == null) { return; }",
    "Wrote handlers such as function init() { render(); }", "Used loops like for (int i = 0; i < n; i++) { total += i; }",
    "Config: {\"retries\": 3, \"timeout\": 30}", "Snippet: class Order { private int id; }"};
static const char *const SNIPPETS_OPS[] = {"Config block: server { listen 80; }",
                                          "Template variables such as {{ hostname }} in Ansible playbooks",
                                          "Rule syntax: alert tcp any any -> any 443 { msg: test }"};

#define PICK(r, a) ((a)[rng_below((r), ACA_ARRAY_LEN(a))])

static size_t list_len(const char *const *l) {
    size_t n = 0;
    while (l[n]) n++;
    return n;
}

static const char *pick_list(aca_rng *r, const char *const *l) { return l[rng_below(r, list_len(l))]; }

typedef struct {
    aca_rng *r;
    aca_buf *out;
    int cls;
    double p_own, p_sib, p_group; // mixture for skills and tasks (rest: shared soft skills)
    size_t words;
    int bullets, dash_style;
} doc_gen;

static void put(doc_gen *g, const char *s) {
    size_t n = strlen(s);
    g->words += text_count_words(s, n);
    buf_append(g->out, s, n);
}

// Draws a source class for one slot: own, sibling or -1 (group) / -2 (shared).
static int draw_source(doc_gen *g) {
    double u = rng_uniform(g->r);
    if (u < g->p_own) return g->cls;
    if (u < g->p_own + g->p_sib) return CLASSES[g->cls].sibling;
    if (u < g->p_own + g->p_sib + g->p_group) return -1;
    return -2;
}

static const char *tool(doc_gen *g) {
    int s = draw_source(g);
    if (s >= 0) return pick_list(g->r, CLASSES[s].tools);
    if (s == -1) return pick_list(g->r, GROUPS[CLASSES[g->cls].group].tools);
    return PICK(g->r, SOFT);
}

static const char *task(doc_gen *g) {
    int s = draw_source(g);
    if (s >= 0) return pick_list(g->r, CLASSES[s].tasks);
    return pick_list(g->r, GROUPS[CLASSES[g->cls].group].tasks);
}

static void sentence(doc_gen *g) {
    aca_rng *r = g->r;
    put(g, " ");
    switch (rng_below(r, 7)) {
    case 0:
        put(g, PICK(r, VERBS)), put(g, " "), put(g, PICK(r, ADJS)), put(g, " "), put(g, task(g));
        put(g, " using "), put(g, tool(g)), put(g, " and "), put(g, tool(g)), put(g, " "), put(g, PICK(r, CONTEXTS));
        break;
    case 1:
        put(g, PICK(r, VERBS)), put(g, " "), put(g, task(g)), put(g, " with "), put(g, tool(g));
        put(g, ", "), put(g, tool(g)), put(g, " and "), put(g, tool(g));
        break;
    case 2:
        put(g, "Worked closely with "), put(g, PICK(r, TEAMS)), put(g, " to "), put(g, PICK(r, VERBS_INF));
        put(g, " "), put(g, task(g)), put(g, " "), put(g, PICK(r, CONTEXTS));
        break;
    case 3:
        put(g, "Responsible for "), put(g, task(g)), put(g, " and "), put(g, task(g)), put(g, " "),
            put(g, PICK(r, CONTEXTS));
        break;
    case 4:
        put(g, "Strong knowledge of "), put(g, tool(g)), put(g, ", "), put(g, tool(g)), put(g, " and "),
            put(g, tool(g));
        break;
    case 5: {
        char num[16];
        snprintf(num, sizeof num, "%u", (unsigned)(2 + rng_below(r, 40)));
        put(g, PICK(r, VERBS)), put(g, " "), put(g, num), put(g, " "), put(g, task(g)), put(g, " "),
            put(g, PICK(r, CONTEXTS));
        put(g, ", "), put(g, PICK(r, RESULTS));
        break;
    }
    default:
        put(g, "Used "), put(g, tool(g)), put(g, " to "), put(g, PICK(r, VERBS_INF)), put(g, " "), put(g, task(g));
        put(g, " and "), put(g, PICK(r, RESULTS));
        break;
    }
    put(g, g->bullets ? ". •" : ".");
}

static void date_range(doc_gen *g) {
    aca_rng *r = g->r;
    unsigned y0 = 2000 + (unsigned)rng_below(r, 18), y1 = y0 + 1 + (unsigned)rng_below(r, 5);
    char s[64];
    const char *m0 = PICK(r, MONTHS), *m1 = PICK(r, MONTHS);
    int present = rng_below(r, 5) == 0;
    char end[16];
    if (present) snprintf(end, sizeof end, "Present");
    else snprintf(end, sizeof end, "%s %u", m1, y1);
    const char *sep = g->dash_style == 0 ? " – " : g->dash_style == 1 ? " - " : " to ";
    snprintf(s, sizeof s, " %s %u%s%s", m0, y0, sep, end);
    put(g, s);
}

static const char *title(doc_gen *g) {
    int c = rng_uniform(g->r) < 0.8 ? g->cls : CLASSES[g->cls].sibling;
    return pick_list(g->r, CLASSES[c].titles);
}

static void skills(doc_gen *g, int n) {
    put(g, " Skills:");
    for (int i = 0; i < n; i++) put(g, i ? ", " : " "), put(g, tool(g));
    put(g, ".");
}

// One document's text (no newline) into out; returns its class.
static int synth_doc(aca_buf *out, uint64_t seed, size_t index) {
    aca_rng r;
    rng_seed(&r, seed, 0x53594E00u + (uint64_t)index * 0x10001u);
    double u = rng_uniform(&r), acc = 0;
    int cls = 9;
    for (int i = 0; i < 10; i++)
        if (u < (acc += CLASSES[i].weight)) {
            cls = i;
            break;
        }
    doc_gen g = {.r = &r, .out = out, .cls = cls};
    g.p_own = 0.15 + 0.6 * rng_uniform(&r);
    g.p_sib = (1 - g.p_own) * (0.25 + 0.3 * rng_uniform(&r));
    g.p_group = (1 - g.p_own - g.p_sib) * 0.6;
    g.bullets = rng_uniform(&r) < 0.35;
    g.dash_style = rng_uniform(&r) < 0.45 ? 0 : (int)(1 + rng_below(&r, 2));
    // Length: log-normal around 420 words, clamped to [50, 1480] (sentences may add a few words).
    double len = exp(log(420.0) + 0.6 * rng_normal(&r));
    size_t target = len < 50 ? 50 : len > 1480 ? 1480 : (size_t)len;
    int accent = rng_uniform(&r) < 0.06;
    int dev = CLASSES[cls].group == 0;
    int snippet = rng_uniform(&r) < (dev ? 0.035 : 0.006);

    put(&g, title(&g));
    put(&g, " ");
    put(&g, accent && rng_below(&r, 2) ? PICK(&r, FIRST_ACCENT) : PICK(&r, FIRST));
    put(&g, " ");
    put(&g, accent && rng_below(&r, 2) ? PICK(&r, LAST_ACCENT) : PICK(&r, LAST));
    put(&g, " ");
    put(&g, accent && rng_below(&r, 3) == 0 ? PICK(&r, CITIES_ACCENT) : PICK(&r, CITIES));
    put(&g, g.bullets ? " • Summary:" : " Summary:");
    sentence(&g);
    if (accent && rng_below(&r, 2)) put(&g, " Full résumé and references available on request.");
    skills(&g, 5 + (int)rng_below(&r, 8));
    put(&g, " Experience:");
    size_t snippet_at = g.words + rng_below(&r, target > g.words ? target - g.words + 1 : 1);
    while (g.words < target) {
        put(&g, " ");
        put(&g, title(&g));
        put(&g, " at ");
        put(&g, PICK(&r, COMPANIES));
        put(&g, ", ");
        put(&g, PICK(&r, CITIES));
        date_range(&g);
        put(&g, g.bullets ? " •" : ".");
        int n = 2 + (int)rng_below(&r, 6);
        for (int i = 0; i < n && g.words < target; i++) {
            sentence(&g);
            if (snippet && g.words >= snippet_at) {
                put(&g, " ");
                put(&g, dev ? PICK(&r, SNIPPETS_DEV) : PICK(&r, SNIPPETS_OPS));
                put(&g, ".");
                snippet = 0;
            }
        }
    }
    if (g.words + 12 < 1500) {
        char y[8];
        snprintf(y, sizeof y, "%u", 1995 + (unsigned)rng_below(&r, 20));
        put(&g, " Education: "), put(&g, PICK(&r, DEGREES)), put(&g, ", "), put(&g, PICK(&r, SCHOOLS)), put(&g, ", ");
        put(&g, y);
        put(&g, ".");
    }
    return cls;
}

// ---- how often chosen characters occur ------------------------------------------------------------
void corpus_synth_opts_default(aca_synth_opts *o) {
    memset(o, 0, sizeof *o);
    o->n = 2;
    o->cp[0] = '{', o->rate[0] = SYNTH_BRACE_RATE;
    o->cp[1] = '}', o->rate[1] = SYNTH_BRACE_RATE;
}

// One character spelled "U+XXXX" (1 to 6 hex digits) or as itself (one UTF-8 code point).
static int synth_parse_char(const char *s, size_t n, uint32_t *cp) {
    if (n > 2 && (s[0] == 'U' || s[0] == 'u') && s[1] == '+') {
        if (n > 8) return -1;
        uint32_t v = 0;
        for (size_t i = 2; i < n; i++) {
            int c = (unsigned char)s[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                                           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return -1;
            v = v * 16 + (uint32_t)d;
        }
        char u[4];
        *cp = v;
        return v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF) && utf8_encode(u, v) ? 0 : -1;
    }
    return n && utf8_decode((const unsigned char *)s, n, cp) == n ? 0 : -1;
}

int corpus_synth_set_rate(aca_synth_opts *o, const char *chr, size_t n, double rate, aca_err *e) {
    uint32_t cp;
    if (synth_parse_char(chr, n, &cp))
        return aca_errf(e, ACA_ERR_VALUE, "'%.*s' is not one character (give it as itself or as U+XXXX)", (int)n, chr);
    if (cp < 0x21 || cp == 0x7F || (cp >= 0x80 && cp <= 0xA0) || cp == 0x85 || (cp < 0x80 && isalnum((int)cp)) ||
        cp == 0x2028 || cp == 0x2029)
        return aca_errf(e, ACA_ERR_VALUE,
                        "U+%04X: only characters other than ASCII letters, digits, whitespace and control "
                        "characters can be given a rate",
                        (unsigned)cp);
    if (!(rate >= 0 && rate <= 1))
        return aca_errf(e, ACA_ERR_VALUE, "U+%04X: the rate must be a share of documents in [0, 1], got %g", (unsigned)cp,
                        rate);
    int k = 0;
    while (k < o->n && o->cp[k] != cp) k++;
    if (k == SYNTH_MAX_RATES)
        return aca_errf(e, ACA_ERR_VALUE, "at most %d characters can be given a rate", SYNTH_MAX_RATES);
    o->cp[k] = cp, o->rate[k] = rate;
    if (k == o->n) o->n++;
    return 0;
}

int corpus_synth_parse_rates(aca_synth_opts *o, const char *list, aca_err *e) {
    const char *p = list;
    while (*p) {
        // The character is the first code point (or U+XXXX) of the item, so ',' and '=' can be given too.
        size_t n = 1;
        if ((p[0] == 'U' || p[0] == 'u') && p[1] == '+') n = strcspn(p, "=");
        else
            while (p[n] && ((unsigned char)p[n] & 0xC0) == 0x80) n++;
        if (p[n] != '=')
            return aca_errf(e, ACA_ERR_VALUE, "'%s': expected CHAR=RATE[,CHAR=RATE...], e.g. '{=0.001,}=0.001' or 'U+2E17=0.01'",
                            list);
        char *end;
        errno = 0;
        double r = strtod(p + n + 1, &end);
        if (end == p + n + 1 || errno || (*end && *end != ','))
            return aca_errf(e, ACA_ERR_VALUE, "'%s': expected a number after '%.*s='", list, (int)n, p);
        if (corpus_synth_set_rate(o, p, n, r, e)) return -1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

// Makes the doc hold each chosen character with its probability: a doc drawn to hold it keeps the
// occurrences it has or, with none, gets one as a word of its own after a uniformly drawn word; a
// doc drawn not to hold it loses every occurrence.  The draw for (doc, character) comes from its
// own RNG stream, so it does not depend on the doc's text or on the other characters.
static void synth_apply_rates(aca_buf *text, aca_buf *tmp, uint64_t seed, size_t index, const aca_synth_opts *o) {
    for (int k = 0; k < o->n; k++) {
        aca_rng r;
        rng_seed(&r, seed, (0x43ULL << 56) | ((uint64_t)o->cp[k] << 32) | (uint64_t)(index & 0xFFFFFFFFu));
        char u[4];
        size_t L = utf8_encode(u, o->cp[k]);
        int carry = rng_uniform(&r) < o->rate[k];
        const char *at = text->len ? memmem(text->data, text->len, u, L) : NULL;
        if (carry == (at != NULL)) continue;
        buf_clear(tmp);
        if (carry) { // after word w (1-based) of W
            size_t W = text_count_words(text->data, text->len), w = W ? 1 + (size_t)rng_below(&r, W) : 0, i = 0;
            for (size_t seen = 0; i < text->len && seen < w;) {
                while (i < text->len && text_is_space((unsigned char)text->data[i])) i++;
                while (i < text->len && !text_is_space((unsigned char)text->data[i])) i++;
                seen++;
            }
            buf_append(tmp, text->data, i);
            if (i) buf_putc(tmp, ' ');
            buf_append(tmp, u, L);
            buf_append(tmp, text->data + i, text->len - i);
        } else {
            for (size_t i = 0; i < text->len;) {
                if (i + L <= text->len && !memcmp(text->data + i, u, L)) i += L;
                else buf_putc(tmp, text->data[i++]);
            }
        }
        aca_buf t = *text;
        *text = *tmp, *tmp = t;
    }
}

void corpus_synth_text_opts(aca_buf *out, size_t n_docs, uint64_t seed, const aca_synth_opts *o) {
    buf_reserve(out, n_docs * 3200);
    aca_buf text = {0}, tmp = {0}; // one doc's text; its class is known only once it is generated
    for (size_t i = 0; i < n_docs; i++) {
        buf_clear(&text);
        int cls = synth_doc(&text, seed, i);
        synth_apply_rates(&text, &tmp, seed, i, o);
        aca_rng r;
        rng_seed(&r, seed, 0x4D4C0000u + (uint64_t)i); // the multi-label choice
        buf_printf(out, "%zu:::%s", i + 1, CLASSES[cls].label);
        if (rng_uniform(&r) < 0.01) buf_printf(out, ";%s", CLASSES[CLASSES[cls].sibling].label);
        buf_puts(out, ":::");
        buf_append(out, text.data, text.len);
        buf_putc(out, '\n');
    }
    buf_free(&text);
    buf_free(&tmp);
}

void corpus_synth_text(aca_buf *out, size_t n_docs, uint64_t seed) {
    aca_synth_opts o;
    corpus_synth_opts_default(&o);
    corpus_synth_text_opts(out, n_docs, seed, &o);
}

int corpus_synth_write_opts(const char *path, size_t n_docs, uint64_t seed, const aca_synth_opts *o, aca_err *e) {
    if (n_docs == 0) return aca_errf(e, ACA_ERR_VALUE, "--docs: must be at least 1");
    aca_buf b = {0};
    corpus_synth_text_opts(&b, n_docs, seed, o);
    int rc = file_write_atomic(path, b.data, b.len, e);
    buf_free(&b);
    return rc;
}

int corpus_synth_write(const char *path, size_t n_docs, uint64_t seed, aca_err *e) {
    aca_synth_opts o;
    corpus_synth_opts_default(&o);
    return corpus_synth_write_opts(path, n_docs, seed, &o, e);
}
